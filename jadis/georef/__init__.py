"""Georeferencing: control points, transforms, residuals, warping, automatic alignment."""
