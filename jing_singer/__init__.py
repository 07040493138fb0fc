"""What tap-jing and target-jing share as Singer plugins: config input, validation, exit codes.

The HTTP client (`jing_client`) knows nothing of Singer; this package is the
one home of the plugin shell both connectors wear.
"""
