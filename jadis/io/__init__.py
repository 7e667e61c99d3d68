"""Files in and out: images and rasters (rasterio), vector layers (pyogrio), atomic writes."""
