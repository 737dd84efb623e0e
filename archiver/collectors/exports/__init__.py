"""Readers of the platforms' account exports, for `archiver import PLATFORM FILE`.

One module per platform (`x.py`: the account archive zip with `data/tweets.js`;
`mastodon.py`: the account export's `outbox.json`, or the export archive holding it;
`bluesky.py`: a repository CAR file), each with

    read_export(path: pathlib.Path) -> Iterator[archiver.records.Observation]

yielding one observation per item the export holds, with the item's original JSON in
`raw`. A reader raises `archiver.errors.InvalidRequest` (or `MalformedResponse`) with a
message for people when the file is not what it should be; the import then archives
nothing (archiver/collectors/exports_cli.py reads the whole file before ingesting), and
the items are archived as `observed`, never `created` (the archive did not see them
appear).
"""
