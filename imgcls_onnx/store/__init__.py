"""Getting a model: the catalogue, finding a bundle (name, folder, archive, URL: ``locate.find_model``, whose one
caller is ``hub.obtain_model``), safe archives, the cache, downloads, the store's errors and the list of what
converting needs. Above the runtime (it may import it), below the converter (which it never imports: a zoo model
without a bundle comes back as ``NeedsConversion``, a value the hub acts on). The network policy it downloads under
is ``runtime/net.py``, shared with image URLs."""
