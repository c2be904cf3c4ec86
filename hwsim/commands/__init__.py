"""One module per ``hwsim`` command: ``add_parser(subparsers)`` registers it, setting ``handler``."""
