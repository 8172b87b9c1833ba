"""The stratus command line: stratus.compute's playbooks through ansible-runner."""
__version__ = "0.1.0"
