"""Evidence exports (issue 8): a scope of records -> a self-verifying BagIt bag in a zip.

    scope.py     a hold, a search or a list of items -> the records (disposed ones listed)
    render.py    each item as a standalone HTML page and a PDF that look like the post
    loadfile.py  Concordance DAT, CSV and Opticon OPT load files for review platforms
    bag.py       the bag: records, media, renderings, load files, proofs, custody, manifests
    jobs.py      the catalog's `exports` table, background runs, status, download expiry
    commands.py  `archiver export`

docs/exports.md describes the package; `archiver-verify bundle` checks one offline.
"""
