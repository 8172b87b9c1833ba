"""python -m stratus_cli"""
from stratus_cli.app import main

main()
