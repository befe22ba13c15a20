"""The commands behind `loader …`: one module per command or group; cli.py only parses arguments.

Each command module is imported when its command runs, so `loader --help` stays light.
"""
