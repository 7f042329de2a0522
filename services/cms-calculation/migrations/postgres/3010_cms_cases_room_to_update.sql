-- PostgreSQL rewrites a row on every update. Room left on each page (a fill factor) lets the new
-- version stay beside the old one, so an update that leaves the indexed columns alone touches no
-- index (a heap-only update); records are kept whole and uncompressed up to a page's size, as
-- compressing half a kilobyte of JSON at every save costs more than it saves.
ALTER TABLE cms_cases SET (fillfactor = 50, toast_tuple_target = 8160);
