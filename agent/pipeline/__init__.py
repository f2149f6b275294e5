"""The inference pipeline: scheduling cameras onto the detector and turning results into messages."""
