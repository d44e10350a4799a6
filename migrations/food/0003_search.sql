-- Search at province scale: SQLite's FTS5 over the folded name and the folded place words
-- (address, ward, district, province), kept in step with `establishments` by triggers, and a
-- table of deletion keys that finds the words of the index within one or two typos of a
-- query word (symmetric-delete spelling correction).
--
-- FTS5 needs a stable integer key. `establishments` had only the implicit rowid, which VACUUM
-- may renumber, so the table is rebuilt with `seq INTEGER PRIMARY KEY` (rowids kept).
-- Violations are moved aside first: dropping a parent table with foreign keys on would
-- cascade its implicit DELETE into them.

CREATE TABLE establishments_new (
    seq             INTEGER PRIMARY KEY,       -- the search index's key; never reused
    id              TEXT NOT NULL UNIQUE,      -- the province's registry id, e.g. DN-000123
    name            TEXT NOT NULL,
    name_folded     TEXT NOT NULL,             -- civic::text::fold(name): search key
    address         TEXT NOT NULL,
    ward            TEXT NOT NULL,
    ward_folded     TEXT NOT NULL,
    district        TEXT NOT NULL,
    district_folded TEXT NOT NULL,
    province        TEXT NOT NULL,
    place_folded    TEXT NOT NULL,             -- fold("address ward district province")
    kind            TEXT NOT NULL,
    cert_number     TEXT,                      -- all four NULL when there is no certificate
    cert_issued     TEXT,
    cert_expires    TEXT,
    cert_authority  TEXT,
    lat             REAL,
    lng             REAL,
    violation_count INTEGER NOT NULL DEFAULT 0,
    updated_at      TEXT NOT NULL
) STRICT;

-- Rows imported before this migration get their address unfolded (SQL cannot fold Vietnamese;
-- the FTS tokenizer still drops most diacritics); importing them again folds it, as the
-- import compares place_folded too.
INSERT INTO establishments_new
    (seq, id, name, name_folded, address, ward, ward_folded, district, district_folded, province,
     place_folded, kind, cert_number, cert_issued, cert_expires, cert_authority, lat, lng,
     violation_count, updated_at)
SELECT rowid, id, name, name_folded, address, ward, ward_folded, district, district_folded, province,
       lower(address) || ' ' || ward_folded || ' ' || district_folded || ' ' || lower(province),
       kind, cert_number, cert_issued, cert_expires, cert_authority, lat, lng, violation_count, updated_at
FROM establishments;

CREATE TABLE violations_kept AS SELECT * FROM violations;
DROP TABLE violations;
DROP TABLE establishments;
ALTER TABLE establishments_new RENAME TO establishments;
CREATE INDEX establishments_district ON establishments (district_folded);

CREATE TABLE violations (
    establishment_id TEXT NOT NULL REFERENCES establishments (id) ON DELETE CASCADE,
    seq              INTEGER NOT NULL,         -- position in the imported list
    date             TEXT NOT NULL,
    description      TEXT NOT NULL,
    penalty_vnd      INTEGER NOT NULL,
    PRIMARY KEY (establishment_id, seq)
) STRICT;
INSERT INTO violations SELECT establishment_id, seq, date, description, penalty_vnd FROM violations_kept;
DROP TABLE violations_kept;

-- External-content FTS5: the text lives in `establishments`; the index holds the words.
-- Prefix indexes of 2 and 3 characters serve queries typed as far as `pho*`.
CREATE VIRTUAL TABLE establishments_fts USING fts5(
    name_folded, place_folded,
    content = 'establishments', content_rowid = 'seq',
    tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
);

CREATE TRIGGER establishments_fts_insert AFTER INSERT ON establishments BEGIN
    INSERT INTO establishments_fts (rowid, name_folded, place_folded)
    VALUES (new.seq, new.name_folded, new.place_folded);
END;

CREATE TRIGGER establishments_fts_delete AFTER DELETE ON establishments BEGIN
    INSERT INTO establishments_fts (establishments_fts, rowid, name_folded, place_folded)
    VALUES ('delete', old.seq, old.name_folded, old.place_folded);
END;

CREATE TRIGGER establishments_fts_update AFTER UPDATE OF name_folded, place_folded ON establishments BEGIN
    INSERT INTO establishments_fts (establishments_fts, rowid, name_folded, place_folded)
    VALUES ('delete', old.seq, old.name_folded, old.place_folded);
    INSERT INTO establishments_fts (rowid, name_folded, place_folded)
    VALUES (new.seq, new.name_folded, new.place_folded);
END;

INSERT INTO establishments_fts (establishments_fts) VALUES ('rebuild');

-- Symmetric-delete keys of every indexed word: the word itself and the strings of two
-- letters or more left by deleting one or two of its letters. A query word's own
-- keys meet these for every indexed word within its typo tolerance; the distance is then
-- checked exactly. Filled by each import; a word no place uses any more only costs a row.
CREATE TABLE search_keys (
    key  TEXT NOT NULL,
    word TEXT NOT NULL,
    PRIMARY KEY (key, word)
) STRICT, WITHOUT ROWID;
