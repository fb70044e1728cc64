"""The web app: regional dashboard, operations console and data catalog (``streamhub serve``).

Pages and their JSON API are served by one FastAPI app (:func:`.app.create_app`); it reads
ClickHouse through a :class:`streamhub.query.QuerySource`, never by opening chDB itself.
"""
