"""The pure collections domain: no AWS, no I/O, deterministic given its inputs."""
