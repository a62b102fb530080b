"""Date formats for every page (FORMAT_MODULE_PATH): Django takes a locale's formats over the
DATETIME_FORMAT setting, so the admin's own fields follow these, not "Dec. 6, 2026, 1:51 a.m."."""
