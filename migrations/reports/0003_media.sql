-- Photos uploaded for reports (report_submission::media), and the database store of
-- civic::objects, used when the deployment has neither a bucket binding (R2) nor an
-- S3-compatible bucket. Times are UTC RFC 3339 with a trailing Z and whole seconds.

-- One row per uploaded photo, whichever store holds its bytes.
CREATE TABLE media (
    id           TEXT PRIMARY KEY,             -- 22 URL-safe base64 characters (128 random bits)
    content_type TEXT NOT NULL CHECK (content_type IN ('image/jpeg', 'image/png', 'image/webp')),
    size         INTEGER NOT NULL CHECK (size > 0),   -- bytes, after the metadata was removed
    created_at   TEXT NOT NULL
) STRICT;

-- The uploads of the last hour, for the per-caller limit: a keyed hash of the caller (JWT
-- subject or client address), never the caller itself; rows older than an hour are deleted.
CREATE TABLE media_uploads (
    caller TEXT NOT NULL,
    at     TEXT NOT NULL,
    id     TEXT NOT NULL
) STRICT;
CREATE INDEX media_uploads_caller ON media_uploads (caller, at);

-- civic::objects's database store: an object in parts of at most 1 MiB (D1 refuses a value
-- over 2 MB), in order of `part`.
CREATE TABLE objects (
    key          TEXT NOT NULL,
    part         INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    data         BLOB NOT NULL,
    PRIMARY KEY (key, part)
) STRICT;
