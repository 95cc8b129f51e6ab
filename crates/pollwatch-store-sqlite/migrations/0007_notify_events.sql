-- Nothing to do on SQLite: one process owns the file, so no other server
-- can store events this one must hear of. The file exists so both
-- backends have the same migrations, by name, in the same order (on
-- PostgreSQL this adds the LISTEN/NOTIFY trigger on events).
SELECT 1;
