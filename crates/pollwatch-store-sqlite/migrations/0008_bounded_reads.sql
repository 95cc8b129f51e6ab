-- Pages of stations in the order people expect ("2" before "10") read
-- straight from an index, with the district filter and the cursor in the
-- same index; a search reads the words index by prefix. No request scans
-- an election's stations.
ALTER TABLE stations ADD COLUMN num_key INTEGER NOT NULL DEFAULT 9223372036854775807;
UPDATE stations SET num_key = CAST(number AS INTEGER)
 WHERE length(number) BETWEEN 1 AND 18 AND number NOT GLOB '*[^0-9]*';
CREATE INDEX stations_order ON stations (election_id, num_key, number);
CREATE INDEX stations_district_order ON stations (election_id, district_id, num_key, number);

-- Each station's words (its number, the words of its name and address,
-- lower-cased by pollwatch_domain::search), filled by the store when
-- stations are imported, and on opening for stations stored before.
CREATE TABLE station_words (
    election_id INTEGER NOT NULL,
    word TEXT NOT NULL,
    station_id INTEGER NOT NULL REFERENCES stations(id),
    PRIMARY KEY (election_id, word, station_id)
) WITHOUT ROWID;
CREATE INDEX station_words_station ON station_words (station_id, word);

-- Each district's stations and registered voters, kept by the import that
-- changes them, so the registry's totals are read, not counted per view.
ALTER TABLE districts ADD COLUMN stations BIGINT NOT NULL DEFAULT 0;
ALTER TABLE districts ADD COLUMN voters BIGINT NOT NULL DEFAULT 0;
UPDATE districts SET
    stations = (SELECT COUNT(*) FROM stations s WHERE s.district_id = districts.id),
    voters = (SELECT COALESCE(SUM(s.registered_voters), 0) FROM stations s WHERE s.district_id = districts.id);
