"""Prognostics and health management: run-to-failure histories, health features, remaining-useful-life
models with prediction intervals, and their evaluation by the measures of the field."""
