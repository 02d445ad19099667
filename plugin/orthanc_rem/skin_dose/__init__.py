"""Skin dose maps of fluoroscopy studies, computed by PySkinDose from our stored projection events.

``inputs`` turns stored TID 10003 events into what the engine needs and records every default it
had to use; ``devices`` holds the geometry conventions of the systems that can be modelled;
``engine`` runs PySkinDose; ``cache`` stores one result per study and knows when it is stale;
``worker`` is the huey task that computes it apart from ingest; ``listing`` puts the PSD in the
study lists; ``openskin`` writes the openSkin CSV. Nothing here imports Flask or ``orthanc``.
"""
