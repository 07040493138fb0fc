"""tap-jing: a Singer tap for the JING marketing cloud Open API."""
