-- The `near` search (GET /food-safety/establishments?near=, and the chat bot's answer to a
-- shared location): a range on latitude, then longitude, read from the index alone. The
-- certificate dates are in it too, so that ordering the candidates with a valid certificate
-- first reads no row either; the full rows are read for the few places answered only.
CREATE INDEX establishments_near ON establishments (lat, lng, cert_issued, cert_expires);
