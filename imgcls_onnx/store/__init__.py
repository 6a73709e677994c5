"""Getting a model: the catalogue, locating a bundle (name, folder, archive, URL), safe archives, the cache and
downloads. Above the runtime (it may import it), below the converter (which it never imports: ``locate_model`` takes
the converter as a callback). The network policy it downloads under is ``runtime/net.py``, shared with image URLs."""
