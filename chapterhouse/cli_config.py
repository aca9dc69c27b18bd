"""`chapterhouse config set`: change keys of an existing node's config.toml by name."""

from __future__ import annotations

import argparse

from chapterhouse import settings, toml_file
from chapterhouse.cli_support import Parser, UsageError, data_dir_argument
from chapterhouse.config import ConfigError

SET_HELP = ("set a config key, e.g. federation.allow_private_addresses=true or "
            'hierarchy.accept_subchapters_from=["a.example"]; the value is TOML, or text')


def add_commands(commands: argparse._SubParsersAction[Parser]) -> None:
    config = commands.add_parser("config", help="change the node's config.toml",
                                 description="Change the node's config.toml.")
    actions = config.add_subparsers(dest="action", required=True, metavar="ACTION",
                                    parser_class=Parser)
    set_ = actions.add_parser(
        "set", help="set config keys (SECTION.KEY=VALUE)",
        description="Set keys of config.toml, keeping its comments. The whole config is "
        "checked first: an unknown key or a bad value changes nothing. A running node reads "
        "its config when it starts: restart it.")
    set_.add_argument("settings", nargs="+", type=settings.assignment_argument,
                      metavar="SECTION.KEY=VALUE", help=SET_HELP)
    data_dir_argument(set_)
    set_.set_defaults(run=cmd_config_set)


def cmd_config_set(args: argparse.Namespace) -> int:
    values = dict(args.settings)
    try:
        settings.set_in_file(args.data, values)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    for key, item in values.items():
        print(f"{key} = {toml_file.value(item)}")
    return 0
