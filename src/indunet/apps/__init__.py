"""Industrial applications on the platform: predictive maintenance (``phm``), equipment operation
indices, safety production."""
