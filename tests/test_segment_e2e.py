"""End to end on the bundled real crop (Atlas municipal 1925, validation region) with the shipped model."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from PIL import Image

from jadis.classes import MapClass
from jadis.paths import data_dir
from jadis.segment.predictor import default_checkpoint

SAMPLE = data_dir() / "samples" / "atlas_municipal_1925_crop.png"

#: Minimum scores on the crop (measured with the shipped checkpoint, minus a margin; see
#: benchmarks/RESULTS.md). The crop is small (blocks cut by its edges count as instances), so its
#: PQ is below the whole validation region's.
MIN_BLOCK_PQ = 0.35
MIN_STREET_IOU = 0.55

pytestmark = pytest.mark.skipif(not default_checkpoint().is_file(),
                                reason=f"shipped checkpoint {default_checkpoint().name} not present")


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    from jadis.pipelines.scan import segment_image

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
    """The centre-lines keep the connectivity of the street mask they are traced from: the graph
    nodes lying on the mask's largest connected region (most of the crop's network) form one
    connected graph. (Whether the model keeps every narrow street open is scored by the benchmark.)"""
    import geopandas as gpd
    import networkx as nx
    from scipy import ndimage

    from jadis.vectorize.cleanup import absorb_text
    from jadis.vectorize.streets import street_mask

    with rasterio.open(segmented.classes_path) as ds:
        mask = street_mask(absorb_text(ds.read(1)))
    labels, n = ndimage.label(mask, structure=np.ones((3, 3)))
    sizes = np.bincount(labels.ravel())[1:]
    big = int(np.argmax(sizes)) + 1
    assert sizes[big - 1] >= 0.5 * mask.sum()  # the model's streets are mostly one network
    # each pixel -> the region of its nearest street pixel (nodes sit on a half-resolution skeleton)
    _, (iy, ix) = ndimage.distance_transform_edt(~mask, return_indices=True)
    nearest = labels[iy, ix]

    streets = gpd.read_file(segmented.gpkg_path, layer="streets")
    nodes = gpd.read_file(segmented.gpkg_path, layer="street_nodes")
    g = nx.MultiGraph()
    g.add_nodes_from(nodes.node_id)
    g.add_edges_from(zip(streets.node_start, streets.node_end, strict=True))
    h, w = mask.shape
    on_big = [i for i, p in zip(nodes.node_id, nodes.geometry, strict=True)
              if nearest[min(h - 1, max(0, int(p.y))), min(w - 1, max(0, int(p.x)))] == big]
    assert len(on_big) >= 10
    largest = max(nx.connected_components(g.subgraph(on_big)), key=len)
    assert len(largest) >= 0.95 * len(on_big)
