"""What stands on the codec: the command line (``cli``), coding files in batches (``batch``), measuring against
other codecs (``bench``) and Pillow's ``.fzi`` support (``pillow_plugin``)."""
