"""A local server that behaves like the JING Open API (`jing-api.md`).

Tests, benchmarks and the demo talk to it over real HTTP on loopback. It is never
imported by `jing_client`, `tap_jing` or `target_jing`; start it with
`jing-sandbox serve` or `jing_sandbox.process.SandboxProcess`.
"""
