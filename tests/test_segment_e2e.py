"""End to end on the bundled real crop (Atlas municipal 1925, validation region) with the shipped model."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from PIL import Image

from jadis.paths import data_dir
from jadis.segment.classes import MapClass
from jadis.segment.predictor import default_checkpoint

SAMPLE = data_dir() / "samples" / "atlas_municipal_1925_crop.png"

#: Minimum scores on the crop (measured with the shipped checkpoint, minus a margin; see
#: benchmarks/RESULTS.md). The crop is small (blocks cut by its edges count as instances), so its
#: PQ is below the whole validation region's.
MIN_BLOCK_PQ = 0.70
MIN_STREET_IOU = 0.80

pytestmark = pytest.mark.skipif(not default_checkpoint().is_file(),
                                reason=f"shipped checkpoint {default_checkpoint().name} not present")


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    from jadis.segment.infer import segment_image

    out = tmp_path_factory.mktemp("e2e")
    return segment_image(SAMPLE, out, progress=False)


def _truth():
    gt = np.asarray(Image.open(SAMPLE.with_name("atlas_municipal_1925_crop_classes.png")))
    content = np.asarray(Image.open(SAMPLE.with_name("atlas_municipal_1925_crop_content.png"))) > 0
    return gt, content


def test_blocks_layer_pq_on_real_crop(segmented):
    import geopandas as gpd
    from rasterio import features

    from jadis.segment.evaluation import block_pq

    gt, content = _truth()
    blocks = gpd.read_file(segmented.gpkg_path, layer="blocks")
    assert len(blocks) > 0 and blocks.geometry.is_valid.all()
    pred = features.rasterize(((g, int(MapClass.BLOCK)) for g in blocks.geometry), out_shape=gt.shape,
                              fill=0, dtype="uint8")
    pq = block_pq(gt, pred, content)
    assert pq.pq >= MIN_BLOCK_PQ, pq


def test_class_raster_scores_on_real_crop(segmented):
    from jadis.segment.evaluation import block_pq, class_iou
    from jadis.vectorize.cleanup import absorb_text

    gt, content = _truth()
    with rasterio.open(segmented.classes_path) as ds:
        pred = ds.read(1)
    assert pred.shape == gt.shape
    assert class_iou(gt, absorb_text(pred), MapClass.STREET, content) >= MIN_STREET_IOU
    assert block_pq(gt, pred, content).pq >= MIN_BLOCK_PQ - 0.1


def test_street_graph_on_real_crop(segmented):
    import geopandas as gpd
    import networkx as nx

    streets = gpd.read_file(segmented.gpkg_path, layer="streets")
    g = nx.MultiGraph()
    g.add_edges_from(zip(streets.node_start, streets.node_end, strict=True))
    largest = max(nx.connected_components(g), key=len)
    # The crop's streets form one network (the Seine splits it only where no bridge is in the crop).
    assert len(largest) >= 0.8 * g.number_of_nodes()
