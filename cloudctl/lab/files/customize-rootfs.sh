#!/bin/sh
# Runs inside the freshly debootstrapped root filesystem (chroot) of the lab hosts.
# Turns it into a typical, not yet hardened Debian 12 server that Ansible can reach:
# an admin user with passwordless sudo, no host keys or machine id baked in (each host
# gets its own), and a local apt repository, because the hosts have no network.
# Inputs (environment): ADMIN_USER, REPO_PACKAGES, REPO_EXTRA (already installed packages
# whose .deb files the repository should also carry, so tests can remove and reinstall).
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

# nothing may start on the build machine while packages are installed
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
chmod 755 /usr/sbin/policy-rc.d

apt-get update -qq
mkdir -p /var/local-repo/partial
apt-get install -y -qq --download-only -o Dir::Cache::archives=/var/local-repo $REPO_PACKAGES
(cd /var/local-repo && apt-get download -qq $REPO_EXTRA)
rm -rf /var/local-repo/partial /var/local-repo/lock

useradd --create-home --shell /bin/bash --groups sudo "$ADMIN_USER"
usermod -p '*' "$ADMIN_USER"
printf '%s ALL=(ALL) NOPASSWD:ALL\n' "$ADMIN_USER" > "/etc/sudoers.d/90-$ADMIN_USER"
chmod 440 "/etc/sudoers.d/90-$ADMIN_USER"
for home in /root "/home/$ADMIN_USER"; do
  mkdir -p "$home/.ssh" "$home/.ansible/tmp"
  chmod 700 "$home/.ssh"
done
chown -R "$ADMIN_USER:$ADMIN_USER" "/home/$ADMIN_USER"

# per host: host keys, machine id, hostname (written when a host is created)
rm -f /etc/ssh/ssh_host_* /var/lib/dbus/machine-id /etc/hostname
: > /etc/machine-id

# from now on apt sees only the local repository (its index is added by the builder)
echo 'deb [trusted=yes] file:/var/local-repo ./' > /etc/apt/sources.list
rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /var/cache/apt/archives/*.deb
rm -f /usr/sbin/policy-rc.d
