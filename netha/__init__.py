"""netha: a network high-availability controller for VRRP gateways."""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
