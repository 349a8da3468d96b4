#!/bin/sh
# Second step inside the chroot, after the builder wrote /var/local-repo/Packages.
set -eu
export DEBIAN_FRONTEND=noninteractive LC_ALL=C
apt-get update -qq
apt-get clean
