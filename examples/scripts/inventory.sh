#!/bin/sh
# Inventory of one computer, as key=value lines that a report can parse.
# Tokens (%COMPNAME%, %ID%) are replaced by the scheduler before sending.
echo "computer=%COMPNAME%"
echo "computer_id=%ID%"
echo "kernel=$(uname -r)"
echo "cpus=$(getconf _NPROCESSORS_ONLN)"
awk '/^MemTotal:/ {print "ram_kib=" $2}' /proc/meminfo
df -kP / | awk 'NR == 2 {print "root_kib=" $2 "; root_used_kib=" $3}'
