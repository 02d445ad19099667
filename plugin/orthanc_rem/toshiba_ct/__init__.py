"""Older Toshiba (and GE Discovery STE) CT scanners: dose from the dose-summary screen.

These scanners send no RDSR, only a secondary-capture "dose summary" screen and the images
(manual, feature inventory part 1 §4.5). A worker gathers the study once Orthanc calls it stable,
has PixelMed's OCR read the screen into an RDSR (``pixelmed``), adds what the image headers
know (``image_parameters``, ``enrichment``) and stores the report back into Orthanc, where it is
extracted like any other RDSR (``study_task``). Nothing here imports ``orthanc``.
"""
