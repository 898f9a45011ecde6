"""`python -m meterhouse`: the same command line as `meterhouse`."""

from meterhouse.app import main

main()
