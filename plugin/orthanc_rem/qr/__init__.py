"""Query-retrieve from a remote PACS through Orthanc's own DICOM client (the manual's "DICOM
Query Retrieve Service").

``options`` holds what a user asks for and the manual's validation rules, ``responses`` the C-FIND
answers at study, series and image level, ``pruning`` the manual's filtering logic as pure
functions, ``query_run`` the order the manual applies them in (with the PACS behind an injected
``Finder``). Orthanc's REST API is reached only from ``orthanc_dicom`` and the worker tasks.
"""
