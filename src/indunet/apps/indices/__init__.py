"""Equipment operation indices: operating rate, working hours, utilisation and OEE per device, group,
region and industry, as fixed-base index series with period-on-period and year-on-year changes."""
