"""An existing site's FileStorage (Data.fs + blobs) moves into the cluster's RelStorage
database with zodbconvert (``make migrate-to-cluster``), blobs included."""

from cluster_helpers import free_port
from cluster_helpers import missing_engines

import os
import pytest

pytestmark = [pytest.mark.slow, pytest.mark.cluster]


def _filestorage_with_a_blob(var):
    from persistent.mapping import PersistentMapping
    from ZODB.blob import Blob
    from ZODB.DB import DB
    from ZODB.FileStorage import FileStorage

    import transaction

    (var / "filestorage").mkdir(parents=True)
    (var / "blobstorage").mkdir()
    storage = FileStorage(str(var / "filestorage" / "Data.fs"), blob_dir=str(var / "blobstorage"))
    db = DB(storage)
    with db.transaction() as connection:
        root = connection.root()
        root["record"] = PersistentMapping({"title": "Alva Andersson"})
        root["letter"] = Blob(b"%PDF-1.4 kallelse")
    transaction.abort()
    db.close()


def _read_relstorage(dsn, blob_cache):
    from relstorage.adapters.postgresql import PostgreSQLAdapter
    from relstorage.options import Options
    from relstorage.storage import RelStorage
    from ZODB.DB import DB

    options = Options(keep_history=False, shared_blob_dir=False, blob_dir=str(blob_cache))
    storage = RelStorage(PostgreSQLAdapter(dsn=dsn, options=options), options=options)
    db = DB(storage)
    try:
        with db.transaction() as connection:
            root = connection.root()
            with root["letter"].open("r") as letter:
                return root["record"]["title"], letter.read()
    finally:
        db.close()


def test_a_filestorage_site_is_copied_into_postgresql_with_its_blobs(cluster_module, cluster_dir):
    reason = missing_engines(need_haproxy=False)
    if reason:
        pytest.skip(reason)
    source = cluster_dir / "old-instance" / "var"
    _filestorage_with_a_blob(source)
    cluster = cluster_module.Cluster(cluster_dir / "cluster", pg_port=free_port())
    environ = {k: v for k, v in os.environ.items() if k != "VIDEOMOTE_DSN"}

    cluster_module.migrate(cluster, source, environ)

    postgres = cluster_module.start_postgres(cluster, environ)
    try:
        dsn = cluster_module.cluster_environment(cluster, environ)["VIDEOMOTE_DSN"]
        title, letter = _read_relstorage(dsn, cluster_dir / "blobcache")
    finally:
        cluster_module.stop({"postgres": postgres})
    assert title == "Alva Andersson"
    assert letter == b"%PDF-1.4 kallelse"
    # the database runs as the unprivileged user and keeps no password in the config
    assert "password" not in (cluster.etc / "zodbconvert.conf").read_text()
    if os.geteuid() == 0:
        assert (cluster.pgdir).stat().st_uid != 0
