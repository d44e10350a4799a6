-- Search at province scale: the folded names in order, so a search reads the places whose
-- name is, or starts with, what the citizen typed through this index (a range of it), not
-- by ordering every match of a common word in the text index (`bm25` over thousands of
-- `banh` cost tens of milliseconds at 100,000 places).
CREATE INDEX establishments_name ON establishments (name_folded);
