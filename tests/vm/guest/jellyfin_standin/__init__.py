"""The Jellyfin stand-in of the VM test bed (and of host measurements): see server.py."""
