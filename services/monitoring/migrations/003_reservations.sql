-- Which provider holds a youth's open proposal: a reserved place is not free, so the tiles and
-- schakel_places_free agree with capacity's own count (and with the shortage it announces).
ALTER TABLE placement_view ADD COLUMN reserved_agb text;
