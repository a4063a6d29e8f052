"""The metadata contract: the SQL stores behave the same on every engine — SQLite (embedded, the
default) and PostgreSQL (scale-out) — including when several nodes race on the same rows.

The PostgreSQL side runs against a real server (a throwaway cluster from Debian's packages, see
``engines.py``); every test gets a fresh database with the migrations applied.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import DBAPIError
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from dockyard.domain.iam import IamUser
from dockyard.domain.models import (
    AccessKey,
    NewManifest,
    Principal,
    RegistryInfo,
    Repository,
    StoredParts,
    Upload,
    UploadPart,
)
from dockyard.errors import (
    ImageReferencedByManifestList,
    ImageTagAlreadyExists,
    ManifestBlobUnknown,
    QuotaExceeded,
    ReferencedImagesNotFound,
    RepositoryAlreadyExists,
    RepositoryNotFound,
    UploadUnknown,
)
from dockyard.lifecycle.evaluation import Expiry
from dockyard.metadata.engine import Database, HotQuery, is_retryable, make_engine, retrying
from dockyard.metadata.lifecycle_store import SqlLifecycleStore
from dockyard.metadata.iam_store import SqlIamStore
from dockyard.metadata.identity_store import SqlIdentityStore
from dockyard.metadata.login_throttle_store import PRUNE_BATCH, SqlLoginFailureStore
from dockyard.metadata.migrate import alembic_config, upgrade
from dockyard.metadata.registry_store import SqlRegistryStore
from dockyard.metadata.usage_store import SqlUsageStore
from dockyard.metadata.tables import (
    manifest_references,
    manifests,
    metadata,
    repositories,
    repository_blobs,
    tags,
    uploads,
)
from dockyard.workers.queue import DONE, QUEUED, RUNNING, JobQueue

from .engines import Postgres

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
THREADS = 8


class Clock:
    def __init__(self, moment: datetime = T0) -> None:
        self.moment = moment

    def now(self) -> datetime:
        return self.moment


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path) -> Iterator[Database]:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'contract.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database()
    engine = make_engine(url)
    upgrade(engine)
    try:
        yield Database(engine)
    finally:
        engine.dispose()


@pytest.fixture
def store(database: Database) -> SqlRegistryStore:
    return SqlRegistryStore(database)


def race(count: int, work: Callable[[int], Any]) -> list[Any]:
    """Run ``work(i)`` on ``count`` threads released together; re-raise the first failure."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    if errors:
        raise errors[0]
    return results


def warm_pool(database: Database) -> None:
    """Open a connection per racing thread first: PostgreSQL connections take milliseconds to
    open, which would otherwise stagger the threads so much that they hardly overlap."""
    barrier = threading.Barrier(THREADS)

    def hold(i: int) -> None:
        with database.read():
            barrier.wait(10)

    race(THREADS, hold)


def digest(n: int | str) -> str:
    return "sha256:" + f"{n}".rjust(64, "0")[-64:].replace(" ", "0")


def manifest(n: int | str, blobs: tuple[str, ...] = (), children: tuple[str, ...] = (),
             size: int = 100) -> NewManifest:
    return NewManifest(digest=digest(f"9{n}"), media_type="application/vnd.oci.image.manifest.v1+json",
                       artifact_type=None, config_media_type=None, subject_digest=None,
                       body=f'{{"n": "{n}"}}'.encode(), image_size=size, annotations={},
                       blob_digests=blobs, manifest_digests=children)


def new_repo(store: SqlRegistryStore, name: str = "team/app") -> Repository:
    return store.create_repository(Repository(0, name, T0))


def image(store: SqlRegistryStore, repo: Repository, n: int | str) -> NewManifest:
    """A manifest whose one layer is linked to ``repo``."""
    layer = digest(f"1{n}")
    store.link_blob(repo.id, layer, 10, T0)
    return manifest(n, (layer,))


# --- schema ----------------------------------------------------------------------------------------
def test_migrations_give_the_declared_schema_at_every_head(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
        assert "0007" in heads
        assert set(context.get_current_heads()) == heads
    upgrade(database.engine)  # idempotent


def test_concurrent_migrations_on_postgresql_take_turns(postgres: Postgres) -> None:
    """Nodes starting together all run the migrations on one empty database."""
    url = postgres.create_database()
    engines = [make_engine(url) for _ in range(4)]
    try:
        race(4, lambda i: upgrade(engines[i]))
        with engines[0].connect() as connection:
            context = MigrationContext.configure(connection)
            assert set(context.get_current_heads()) == set(
                ScriptDirectory.from_config(alembic_config()).get_heads())
    finally:
        for engine in engines:
            engine.dispose()


def test_a_plain_postgresql_url_uses_psycopg(postgres: Postgres) -> None:
    engine = make_engine(postgres.url().replace("postgresql+psycopg://", "postgresql://"))
    try:
        assert engine.dialect.driver == "psycopg"
        Database(engine).ping()
    finally:
        engine.dispose()


# --- repositories, blobs --------------------------------------------------------------------------
def test_repositories(store: SqlRegistryStore) -> None:
    repo = new_repo(store, "b/one")
    new_repo(store, "a/two")
    with pytest.raises(RepositoryAlreadyExists):
        new_repo(store, "b/one")
    found = store.get_repository("b/one")
    assert found is not None and found.id == repo.id
    assert found.created_at == T0 and found.created_at.tzinfo is not None
    assert [r.name for r in store.list_repositories(after=None, limit=10)] == ["a/two", "b/one"]
    assert [r.name for r in store.list_repositories(after="a/two", limit=10)] == ["b/one"]
    assert store.delete_repository(repo.id, force=False)
    assert store.get_repository("b/one") is None


def test_hot_queries_return_what_sqlalchemy_returns(store: SqlRegistryStore) -> None:
    """``Database.first`` runs on the thread's own driver connection: same rows as a normal read
    (JSON, booleans, UTC timestamps), and a connection the server dropped is replaced."""
    repo = store.create_repository(Repository(0, "team/hot", T0, scan_on_push=True,
                                              tags=({"Key": "k", "Value": "v"},)))
    store.link_blob(repo.id, digest(1), 5, T0)
    db = store.db
    query = HotQuery(select(repositories).where(repositories.c.name == bindparam("name")))
    with db.read() as c:
        expected = c.execute(query.statement, {"name": "team/hot"}).first()
    row = db.first(query, {"name": "team/hot"})
    assert row is not None and tuple(row) == tuple(expected)
    assert row.created_at == T0 and row.scan_on_push is True and row.tags == [{"Key": "k", "Value": "v"}]
    gc.collect()  # the thread's connection is held by the Database, not by a pool proxy
    assert store.lookup_blob("team/hot", digest(1)) == (repo.id, 5, T0)
    if db.dialect == "postgresql":
        backend = db._connection().info.backend_pid
        with db.read() as c:
            c.execute(select(func.pg_terminate_backend(backend))).scalar_one()
        assert store.lookup_blob("team/hot", digest(1)) == (repo.id, 5, T0)  # reconnected
        assert db._connection().info.backend_pid != backend


def test_blob_links(store: SqlRegistryStore) -> None:
    repo, other = new_repo(store), new_repo(store, "team/other")
    assert store.link_blob(repo.id, digest(1), 5, T0)
    assert store.linked_blob_size(repo.id, digest(1)) == 5
    assert store.linked_blob_size(other.id, digest(1)) is None
    assert store.lookup_blob("team/app", digest(1)) == (repo.id, 5, T0)
    assert store.lookup_blob("team/other", digest(1)) == (other.id, None, None)
    assert not store.lookup_blob("nope", digest(1)).exists
    assert store.linked_blobs(repo.id, [digest(1), digest(2)]) == {digest(1): (5, T0)}
    assert store.linked_blobs(other.id, [digest(1)]) == {}
    assert not store.link_blob(other.id, digest(2), 5, T0, stored=lambda: False)
    assert store.blob_size(digest(2)) is None
    assert store.link_blob(repo.id, digest(1), 5, T0 + timedelta(1))  # again: refreshed
    assert store.unlink_blob(repo.id, digest(1)) and not store.unlink_blob(repo.id, digest(1))


def test_concurrent_links_of_one_new_blob(store: SqlRegistryStore) -> None:
    repos = [new_repo(store, f"r/{i}") for i in range(THREADS)]
    assert all(race(THREADS, lambda i: store.link_blob(repos[i % 2].id, digest(7), 9, T0)))
    assert store.blob_size(digest(7)) == 9
    assert store.linked_blob_size(repos[0].id, digest(7)) == 9


# --- uploads ---------------------------------------------------------------------------------------
def test_uploads_record_their_parts(store: SqlRegistryStore) -> None:
    repo = new_repo(store)
    store.create_upload(Upload("u-1", repo.id, 0, 0, None, T0, T0))
    got = store.get_upload(repo.id, "u-1")
    assert got is not None and got.size == 0 and got.stored is None
    parts = StoredParts("mp-1", (UploadPart(1, '"etag1"', 5 << 20), UploadPart(2, '"e2"', 6 << 20)),
                        "tail-123")
    store.advance_upload("u-1", expected_size=0, size=12 << 20, sha256_size=12 << 20,
                         sha256_hex="ab" * 32, now=T0, stored=parts)
    got = store.get_upload(repo.id, "u-1")
    assert got is not None and got.stored == parts and got.size == 12 << 20
    with pytest.raises(UploadUnknown):  # conditional on the size it continues from
        store.advance_upload("u-1", expected_size=0, size=1, sha256_size=1, sha256_hex=None,
                             now=T0)
    store.advance_upload("u-1", expected_size=12 << 20, size=13 << 20, sha256_size=12 << 20,
                         sha256_hex="ab" * 32, now=T0, stored=StoredParts(None, (), "tail-9"))
    got = store.get_upload(repo.id, "u-1")
    assert got is not None and got.stored == StoredParts(None, (), "tail-9")
    assert got.sha256_size == 12 << 20
    assert store.get_upload(repo.id + 1, "u-1") is None
    assert store.delete_upload("u-1") and store.get_upload(repo.id, "u-1") is None


def test_concurrent_appends_to_one_upload_one_wins(store: SqlRegistryStore) -> None:
    repo = new_repo(store)
    store.create_upload(Upload("u-2", repo.id, 0, 0, None, T0, T0))

    def append(i: int) -> bool:
        try:
            store.advance_upload("u-2", expected_size=0, size=i + 1, sha256_size=i + 1,
                                 sha256_hex=None, now=T0)
            return True
        except UploadUnknown:
            return False

    assert sum(race(THREADS, append)) == 1


# --- manifests and tags ----------------------------------------------------------------------------
def test_manifests_and_tags(store: SqlRegistryStore) -> None:
    repo = new_repo(store)
    one, two = image(store, repo, 1), image(store, repo, 2)
    assert store.put_manifest(repo.id, one, tag="v1", tag_immutable=False, now=T0) == (True, True)
    assert store.put_manifest(repo.id, one, tag="v1", tag_immutable=False, now=T0) == (False, False)
    assert store.put_manifest(repo.id, two, tag="v1", tag_immutable=False, now=T0) == (True, True)
    with pytest.raises(ImageTagAlreadyExists):
        store.put_manifest(repo.id, one, tag="v1", tag_immutable=True, now=T0)
    head = store.manifest_by_tag(repo.id, "v1", with_body=True)
    assert head is not None and head.digest == two.digest and head.body == two.body
    repo_id, found = store.lookup_manifest("team/app", tag="v1", with_body=False)
    assert repo_id == repo.id and found is not None and found.digest == two.digest
    assert store.lookup_manifest("team/app", digest=one.digest, with_body=False)[1] is not None
    assert store.lookup_manifest("nope", tag="v1", with_body=False) == (None, None)
    with pytest.raises(ManifestBlobUnknown):
        store.put_manifest(repo.id, manifest(3, (digest(99),)), tag=None, tag_immutable=False,
                           now=T0)
    assert store.list_tags(repo.id, after=None, limit=None) == ["v1"]
    assert store.tags_of(repo.id, two.digest) == ["v1"]
    assert store.untag(repo.id, "v1") == (two.digest, True)  # last tag: the image goes too
    assert store.manifest_by_digest(repo.id, two.digest, with_body=False) is None
    assert store.untag(repo.id, "v1") == (None, False)


def test_indexes_protect_their_children(store: SqlRegistryStore) -> None:
    repo = new_repo(store)
    child = image(store, repo, 1)
    store.put_manifest(repo.id, child, tag=None, tag_immutable=False, now=T0)
    with pytest.raises(ReferencedImagesNotFound):
        store.put_manifest(repo.id, manifest("i0", children=(digest(5),)), tag=None,
                           tag_immutable=False, now=T0)
    index = manifest("i", children=(child.digest,))
    assert store.put_manifest(repo.id, index, tag="multi", tag_immutable=False, now=T0)[0]
    with pytest.raises(ImageReferencedByManifestList):
        store.delete_manifest(repo.id, child.digest)
    assert store.delete_manifest(repo.id, index.digest)
    assert store.delete_manifest(repo.id, child.digest)
    assert not store.delete_manifest(repo.id, child.digest)


def test_racing_pushes_move_one_tag(store: SqlRegistryStore) -> None:
    """Nodes pushing different images to one new tag: every push succeeds, the tag ends on one
    of them, and every image is stored."""
    repo = new_repo(store)
    images = [image(store, repo, i) for i in range(THREADS)]
    results = race(THREADS, lambda i: store.put_manifest(repo.id, images[i], tag="latest",
                                                         tag_immutable=False, now=T0))
    assert all(new for new, _ in results)
    final = store.manifest_by_tag(repo.id, "latest", with_body=False)
    assert final is not None and final.digest in {m.digest for m in images}
    for m in images:
        assert store.manifest_by_digest(repo.id, m.digest, with_body=False) is not None


def test_racing_pushes_of_one_image(store: SqlRegistryStore) -> None:
    repo = new_repo(store)
    same = image(store, repo, "same")
    results = race(THREADS, lambda i: store.put_manifest(repo.id, same, tag=f"t{i % 2}",
                                                         tag_immutable=False, now=T0))
    assert sum(new for new, _ in results) == 1  # stored once
    assert sorted(store.tags_of(repo.id, same.digest)) == ["t0", "t1"]
    assert store.referrers(repo.id, same.digest) == []


def test_racing_pushes_to_an_immutable_tag_one_wins(store: SqlRegistryStore) -> None:
    repo = new_repo(store)
    images = [image(store, repo, i) for i in range(THREADS)]

    def push(i: int) -> bool:
        try:
            store.put_manifest(repo.id, images[i], tag="release", tag_immutable=True, now=T0)
            return True
        except ImageTagAlreadyExists:
            return False

    assert sum(race(THREADS, push)) == 1


def test_untag_racing_with_pushes_leaves_no_dangling_tag(store: SqlRegistryStore) -> None:
    """Untagging the last tag (which deletes the image) while other nodes push the same image to
    that tag and to others: no deadlock, no error, no tag left pointing at a deleted manifest."""
    repo = new_repo(store)
    same = image(store, repo, "u")
    for _round in range(8):
        store.put_manifest(repo.id, same, tag="a", tag_immutable=False, now=T0)

        def work(i: int) -> object:
            if i % 3 == 0:
                return store.untag(repo.id, "a")
            tag = "a" if i % 3 == 1 else f"b{i}"
            return store.put_manifest(repo.id, same, tag=tag, tag_immutable=False, now=T0)

        race(THREADS, work)
        for tag in store.list_tags(repo.id, after=None, limit=None):
            head = store.manifest_by_tag(repo.id, tag, with_body=False)
            assert head is not None, f"tag {tag} points at a deleted manifest"
        for tag in store.list_tags(repo.id, after=None, limit=None):
            store.delete_tag(repo.id, tag)


def test_index_push_racing_with_child_delete(store: SqlRegistryStore) -> None:
    """Either the index is refused (its child is gone) or the child's deletion is; never an
    index whose child was deleted."""
    repo = new_repo(store)
    for n in range(5):
        child = image(store, repo, f"c{n}")
        store.put_manifest(repo.id, child, tag=None, tag_immutable=False, now=T0)
        index = manifest(f"i{n}", children=(child.digest,))

        def work(i: int) -> str:
            try:
                if i % 2:
                    return "deleted" if store.delete_manifest(repo.id, child.digest) else "absent"
                store.put_manifest(repo.id, index, tag=None, tag_immutable=False, now=T0)
                return "indexed"
            except (ImageReferencedByManifestList, ReferencedImagesNotFound) as exc:
                return type(exc).__name__

        race(4, work)
        stored_index = store.manifest_by_digest(repo.id, index.digest, with_body=False)
        stored_child = store.manifest_by_digest(repo.id, child.digest, with_body=False)
        assert stored_index is None or stored_child is not None


def test_deleting_a_repository_racing_with_pushes(store: SqlRegistryStore) -> None:
    """DeleteRepository --force while other nodes push into the repository: no deadlock, each
    push lands before the deletion or is told the repository is gone, and nothing is left."""
    for n in range(4):
        repo = new_repo(store, f"team/gone{n}")
        images = [image(store, repo, f"{n}-{i}") for i in range(THREADS)]
        store.put_manifest(repo.id, images[0], tag="first", tag_immutable=False, now=T0)

        def work(i: int) -> object:
            if i == 0:
                return store.delete_repository(repo.id, force=True)
            try:
                store.put_manifest(repo.id, images[i], tag=f"t{i % 3}", tag_immutable=False,
                                   now=T0)
                return "pushed"
            except RepositoryNotFound:
                return "gone"

        results = race(THREADS, work)
        assert results[0] is True
        assert store.get_repository(f"team/gone{n}") is None
        with store.db.read() as c:
            for table in (tags, manifests, manifest_references, repository_blobs, uploads):
                left = c.execute(select(func.count()).select_from(table).where(
                    table.c.repository_id == repo.id)).scalar_one()
                assert left == 0, f"{table.name} rows left behind"


def test_lifecycle_expiry_racing_with_a_push_of_the_image(database: Database) -> None:
    """A push tagging an image the lifecycle run is expiring: the new tag is never lost (the
    expiry sees the image changed and leaves it, or runs first and the push stores it again)."""
    store, lifecycle = SqlRegistryStore(database), SqlLifecycleStore(database)
    repo = new_repo(store)
    for n in range(8):
        img = image(store, repo, f"x{n}")
        store.put_manifest(repo.id, img, tag=f"old{n}", tag_immutable=False, now=T0)
        item = Expiry(img.digest, (f"old{n}",), T0, 1, "rule", img.digest)

        def work(i: int) -> object:
            if i == 0:
                return lifecycle.expire(repo.id, repo.name, item, f"run{n}", T0)
            return store.put_manifest(repo.id, img, tag=f"new{n}", tag_immutable=False, now=T0)

        race(2, work)
        head = store.manifest_by_tag(repo.id, f"new{n}", with_body=False)
        assert head is not None and head.digest == img.digest


def test_racing_pushes_respect_the_image_quota(database: Database) -> None:
    store = SqlRegistryStore(database)
    repo = new_repo(store)
    SqlUsageStore(database).set_quota(repo.id, None, 3)
    images = [image(store, repo, f"q{i}") for i in range(THREADS)]
    warm_pool(database)

    def push(i: int) -> bool:
        try:
            return store.put_manifest(repo.id, images[i], tag=None, tag_immutable=False,
                                      now=T0)[0]
        except QuotaExceeded:
            return False

    assert sum(race(THREADS, push)) == 3
    assert store.repository_image_count(repo.id) == 3


def test_a_deadlock_victim_runs_again(postgres: Postgres) -> None:
    """Two transactions locking two rows in opposite orders: PostgreSQL aborts one as the
    deadlock victim; ``retrying`` runs it again and both succeed."""
    engine = make_engine(postgres.create_database())
    upgrade(engine)
    db = Database(engine)
    try:
        store = SqlRegistryStore(db)
        a, b = new_repo(store, "a").id, new_repo(store, "b").id
        barrier = threading.Barrier(2)
        attempts: list[int] = []

        def opposite_orders(i: int, retried: bool) -> None:
            first, second = (a, b) if i == 0 else (b, a)

            def transaction() -> None:
                attempts.append(i)
                with db.write() as c:
                    c.execute(update(repositories).where(repositories.c.id == first)
                              .values(scan_on_push=True))
                    if len(attempts) <= 2:  # the first attempts meet, later ones go through
                        barrier.wait(10)
                    c.execute(update(repositories).where(repositories.c.id == second)
                              .values(scan_on_push=True))
            (retrying(transaction) if retried else transaction)()

        with pytest.raises(DBAPIError) as aborted:
            race(2, lambda i: opposite_orders(i, retried=False))
        assert is_retryable(aborted.value)
        attempts.clear()
        barrier.reset()
        race(2, lambda i: opposite_orders(i, retried=True))
        assert len(attempts) == 3  # the victim ran once more
    finally:
        engine.dispose()


# --- job queue -------------------------------------------------------------------------------------
def test_job_queue(database: Database) -> None:
    clock = Clock()
    queue = JobQueue(database, clock)
    job_id = queue.enqueue("scan", {"n": 1})
    assert queue.enqueue("gc", {}, dedupe_key="gc:1") is not None
    assert queue.enqueue("gc", {}, dedupe_key="gc:1") is None
    assert queue.dedupe_taken("gc:1")
    job = queue.claim("node-a", ["scan"], timedelta(minutes=5))
    assert job is not None and job.id == job_id and job.payload == {"n": 1} and job.attempts == 1
    assert queue.state(job_id) == (RUNNING, None)
    assert queue.claim("node-b", ["scan"], timedelta(minutes=5)) is None
    clock.moment += timedelta(minutes=6)  # node-a died: its lease expires
    again = queue.claim("node-b", ["scan"], timedelta(minutes=5))
    assert again is not None and again.id == job_id and again.attempts == 2
    queue.finish(job, "node-a")  # the old owner's late finish changes nothing
    assert queue.state(job_id) == (RUNNING, None)
    queue.finish(again, "node-b", error="boom", retry_in=timedelta(seconds=1))
    assert queue.state(job_id) == (QUEUED, "boom")
    clock.moment += timedelta(seconds=2)
    last = queue.claim("node-c", ["scan"], timedelta(minutes=5))
    assert last is not None
    queue.finish(last, "node-c")
    assert queue.state(job_id) == (DONE, None)


def test_runners_racing_for_one_job(database: Database) -> None:
    queue = JobQueue(database, Clock())
    queue.enqueue("scan", {})
    claims = race(THREADS, lambda i: queue.claim(f"node-{i}", ["scan"], timedelta(minutes=1)))
    assert sum(c is not None for c in claims) == 1


def test_runners_share_the_queue_without_doubles(database: Database) -> None:
    """SKIP LOCKED on PostgreSQL: runners take different jobs instead of waiting on one row."""
    queue = JobQueue(database, Clock())
    ids = {queue.enqueue("scan", {"n": n}) for n in range(40)}

    def drain(i: int) -> list[str]:
        taken = []
        misses = 0
        while misses < 3:
            job = queue.claim(f"node-{i}", ["scan"], timedelta(minutes=1))
            if job is None:
                misses += 1
                continue
            taken.append(job.id)
            queue.finish(job, f"node-{i}")
        return taken

    taken = [job_id for batch in race(THREADS, drain) for job_id in batch]
    assert sorted(taken) == sorted(ids)  # every job once, none twice


# --- identity --------------------------------------------------------------------------------------
def test_identity_store(database: Database) -> None:
    identity = SqlIdentityStore(database)
    assert identity.registry() is None
    winners = race(THREADS, lambda i: identity.create_registry(
        RegistryInfo(f"{100000000000 + i}", "us-east-1", T0), b"key-%d" % i))
    assert sum(winners) == 1  # nodes starting together: one creates the registry
    found = identity.registry()
    assert found is not None and found[0].region == "us-east-1" and found[0].created_at == T0
    admin = Principal("AIDAEXAMPLE0000000001", "user", "admin",
                      "arn:aws:iam::100000000000:user/admin")
    identity.create_principal(admin, T0)
    assert identity.principal_by_name("user", "admin") == identity.principal(admin.id)
    key = AccessKey("AKIAEXAMPLE000000001", admin.id, "Active", T0, None, b"\x00secret\xff")
    identity.create_access_key(key)
    got = identity.access_key(key.access_key_id)
    assert got is not None and got.secret_encrypted == b"\x00secret\xff" and got.status == "Active"
    race(THREADS, lambda i: identity.touch_access_key(key.access_key_id, T0 + timedelta(i)))
    touched = identity.access_key(key.access_key_id)
    assert touched is not None and touched.last_used_at is not None
    assert touched.last_used_at.tzinfo is not None
    assert identity.set_access_key_status(key.access_key_id, "Inactive")
    assert [k.status for k in identity.access_keys(admin.id)] == ["Inactive"]
    assert identity.delete_access_key(key.access_key_id)
    assert identity.access_key(key.access_key_id) is None


def test_console_password_failures_racing_on_nodes_are_all_counted(database: Database) -> None:
    iam = SqlIamStore(database)
    user = IamUser("AIDAEXAMPLE0000000002", "dev", "/", "arn:aws:iam::100000000000:user/dev", T0)
    iam.create_user(user)
    iam.create_login_profile(user.id, "hash", False, T0)
    race(THREADS, lambda i: [iam.record_login_failure(user.id, T0, 1000, timedelta(minutes=15))
                             for _ in range(10)])
    profile = iam.login_profile(user.id)
    assert profile is not None and profile.failed_attempts == THREADS * 10
    assert profile.locked_until is None
    race(THREADS, lambda i: iam.record_login_failure(user.id, T0, THREADS * 10 + 1,
                                                     timedelta(minutes=15)))
    locked = iam.login_profile(user.id)  # the limit was crossed once: locked, count restarted
    assert locked is not None and locked.locked_until == T0 + timedelta(minutes=15)
    assert locked.failed_attempts == 0  # the others found it locked: not counted
    iam.record_login_failure(user.id, T0, 3, timedelta(minutes=15))  # locked: not counted
    assert iam.login_profile(user.id) == locked


# --- console sign-in back-off (LoginFailureStore) ------------------------------------------------
def test_login_failures(database: Database) -> None:
    store = SqlLoginFailureStore(database)
    t1, late = T0 + timedelta(seconds=1), T0 + timedelta(hours=1)
    assert store.failures(["ip:a"]) == [] and store.failures([]) == []
    store.record_failure(["ip:a", "user:alice"], T0)
    store.record_failure(["user:alice", "ip:a", "user:alice"], t1)  # a key given twice counts once
    assert store.failures(["ip:a", "user:alice", "user:bob"]) == [(2, t1), (2, t1)]
    store.clear(["user:alice", "user:bob"])
    assert store.failures(["user:alice"]) == [] and store.failures(["ip:a"]) == [(2, t1)]
    store.record_failure(["user:late"], late)
    assert store.forget_before(T0 + timedelta(minutes=30)) == 1
    assert store.failures(["ip:a", "user:late"]) == [(1, late)]
    assert store.failures(["ip:a", "user:late"])[0][1].tzinfo is not None


def test_concurrent_failures_lose_no_count(database: Database) -> None:
    """Nodes recording failures of one address at the same moment: every one is counted."""
    store = SqlLoginFailureStore(database)

    def fail(i: int) -> None:
        for n in range(10):
            store.record_failure([f"user:u{i}", "ip:attacker"], T0 + timedelta(seconds=n))

    race(THREADS, fail)
    assert store.failures(["ip:attacker"]) == [(THREADS * 10, T0 + timedelta(seconds=9))]
    for i in range(THREADS):
        assert store.failures([f"user:u{i}"]) == [(10, T0 + timedelta(seconds=9))]


def test_pruning_racing_with_failures(database: Database) -> None:
    """Several nodes pruning while others record failures of the idle keys: no deadlock, no
    error, every idle key goes and every key failed again stays."""
    store = SqlLoginFailureStore(database)
    old = [f"user:idle{n}" for n in range(2 * PRUNE_BATCH + 100)]
    store.record_failure(old, T0)
    again = old[::50]
    later = T0 + timedelta(hours=1)

    def work(i: int) -> int:
        if i % 2 == 0:
            return store.forget_before(later - timedelta(minutes=10))
        for key in again[i // 2::THREADS // 2]:
            store.record_failure([key, "ip:attacker"], later)
        return 0

    deleted = sum(race(THREADS, work))
    assert len(old) - len(again) <= deleted <= len(old)
    left = store.failures(old)
    assert len(left) == len(again)  # pruned then counted again (1), or counted first (2)
    assert all(count in (1, 2) and at == later for count, at in left)
    assert store.failures(["ip:attacker"]) == [(len(again), later)]
