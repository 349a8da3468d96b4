"""The local lab: real OpenStack services and systemd-nspawn SSH hosts on 127.0.0.1."""
