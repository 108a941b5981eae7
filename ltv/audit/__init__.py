"""``ltv audit``: re-validate whole archives, resumable, stored in SQLite.

- :mod:`ltv.audit.walk`: what to audit (files, directories, zip archives read in place, a list);
- :mod:`ltv.audit.codec`: the timeless facts of a file as safe, versioned JSON (never pickles);
- :mod:`ltv.audit.cache`: work done once per archive (chains, evidence checks, certificates);
- :mod:`ltv.audit.speedups`: an equivalent, faster reader for pyHanko's PDF hex strings;
- :mod:`ltv.audit.store`: the SQLite store (schema in ``docs/audit-store.md``);
- :mod:`ltv.audit.runner`: examine/judge in a process pool or on a Dask cluster, results into
  the one local store, resumable after a kill;
- :mod:`ltv.audit.summary`, :mod:`ltv.audit.html`: the summary (JSON, text) and the HTML page.
"""
