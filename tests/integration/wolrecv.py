#!/usr/bin/env python3
"""A wake-on-LAN listener for tests: wolrecv.py PORT_FILE OUT

Binds a UDP socket to 127.255.255.255 on a free port (written to PORT_FILE): Linux
delivers there what is broadcast to 127.255.255.255 on the loopback. Each datagram is
appended to OUT as one line, "LENGTH HEX". Runs until killed."""
import socket
import sys

port_file, out = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.255.255.255", 0))
with open(port_file + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
import os
os.rename(port_file + ".tmp", port_file)
while True:
    data, _ = s.recvfrom(65536)
    with open(out, "a") as f:
        f.write("%d %s\n" % (len(data), data.hex()))
