"""Models in and out: NIR graphs (import and export) and TENNLab network JSON (export).

`nir_import` turns a feed-forward NIR graph into a spikeloom checkpoint, `nir_export` writes a
checkpoint as a NIR graph, `tennlab` writes the mapper's view of a model as TENNLab JSON.
Needs the optional `nir` package (`pip install 'spikeloom[nir]'`), imported lazily.
"""

from __future__ import annotations
