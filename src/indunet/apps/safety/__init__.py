"""Safety production for hazardous chemicals: major hazard sources (GB 18218-2018), monitoring with the
alarm set-points of GB/T 50493-2019, four-level early warning, disposal, failure database, safety index
and reports."""
