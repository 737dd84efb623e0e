"""download_media: what is kept (right size, declared and sniffed type agree), what is
refused and said, and that a refused medium stays referenced without sha256."""

from __future__ import annotations

from archiver.collectors.media import DEFAULT_ALLOWED_TYPES, download_media, sniff
from archiver.collectors.transport import Transport
from tests.media.conftest import jpeg, mp4, observation, png, serve, sha, webm
from tests.replay.server import ReplayServer

LIMIT = 10_000


def download(http: Transport, observations, **kw):
    return download_media(http, observations, max_bytes=kw.pop("max_bytes", LIMIT),
                          allowed_types=kw.pop("allowed_types", DEFAULT_ALLOWED_TYPES))


def test_a_png_and_a_jpeg_are_kept_with_sha256_and_sniffed_mime(
        server: ReplayServer, http: Transport) -> None:
    a = serve(server, "/a.png", png(), "image/png")
    b = serve(server, "/b.jpg", jpeg(), "image/jpeg; charset=binary")
    obs = observation(media=[{"id": "1", "url": a, "alt": "Ramani ya Dar es Salaam"},
                             {"id": "2", "url": b, "mime": "image"}])
    out, blobs, problems = download(http, [obs])
    assert problems == []
    assert out[0].media == [
        {"id": "1", "url": a, "alt": "Ramani ya Dar es Salaam", "sha256": sha(png()),
         "mime": "image/png"},
        {"id": "2", "url": b, "mime": "image/jpeg", "sha256": sha(jpeg())},
    ]
    assert {s: (b.mime, b.data) for s, b in blobs.items()} == {
        sha(png()): ("image/png", png()), sha(jpeg()): ("image/jpeg", jpeg())}
    assert out[0].text == obs.text  # nothing else of the observation changes


def test_video_formats_are_recognised_by_their_magic_bytes() -> None:
    assert sniff(mp4()) == "video/mp4"
    assert sniff(b"\x00\x00\x00\x14ftypqt  \x00\x00\x02\x00qt  ") == "video/quicktime"
    assert sniff(webm()) == "video/webm"
    assert sniff(b"RIFF\x10\x00\x00\x00WEBPVP8 ") == "image/webp"
    assert sniff(b"GIF89a\x01\x00\x01\x00") == "image/gif"
    assert sniff(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") == "image/heic"
    assert sniff(b"<svg xmlns='http://www.w3.org/2000/svg'/>") is None


def test_an_mp4_served_as_quicktime_is_the_same_container_and_kept(
        server: ReplayServer, http: Transport) -> None:
    url = serve(server, "/v.mov", mp4(), "video/quicktime")
    out, blobs, problems = download(http, [observation(media=[{"url": url}])])
    assert problems == [] and out[0].media[0]["mime"] == "video/mp4"


def test_the_same_file_at_two_urls_is_one_blob_and_each_url_is_fetched_once(
        server: ReplayServer, http: Transport) -> None:
    a = serve(server, "/a.png", png(), "image/png")
    b = serve(server, "/copy.png", png(), "image/png")
    obs = [observation("1", media=[{"url": a}, {"url": b}]),
           observation("2", media=[{"url": a}])]
    out, blobs, problems = download(http, obs)
    assert list(blobs) == [sha(png())]
    assert [m["sha256"] for o in out for m in o.media] == [sha(png())] * 3
    assert len(server.calls("/a.png")) == 1 and len(server.calls("/copy.png")) == 1


def test_a_declared_length_over_the_limit_is_refused(
        server: ReplayServer, http: Transport) -> None:
    big = png() + b"\x00" * LIMIT
    url = serve(server, "/big.png", big, "image/png")
    out, blobs, problems = download(http, [observation(media=[{"id": "9", "url": url}])])
    assert blobs == {}
    assert out[0].media == [{"id": "9", "url": url}]  # still referenced, without sha256
    assert len(problems) == 1 and "media[0]" in problems[0] and f"{LIMIT}-byte limit" in \
        problems[0]


def test_a_body_without_declared_length_is_cut_off_at_the_limit(
        undeclared_server, http: Transport) -> None:
    url, handler = undeclared_server
    handler.body = png() + b"\x00" * (LIMIT * 3)
    out, blobs, problems = download(http, [observation(media=[{"url": url}])])
    assert blobs == {} and "sha256" not in out[0].media[0]
    assert len(problems) == 1 and f"larger than the {LIMIT}-byte limit" in problems[0]
    handler.body = png()  # the same server within the limit: kept (the test can fail)
    _, blobs, problems = download(http, [observation(media=[{"url": url}])])
    assert problems == [] and list(blobs) == [sha(png())]


def test_a_type_that_is_not_allowed_is_refused(server: ReplayServer, http: Transport) -> None:
    url = serve(server, "/page", b"<html><body>gone</body></html>", "text/html")
    out, blobs, problems = download(http, [observation(media=[{"url": url}])])
    assert blobs == {} and "declared type text/html is not allowed" in problems[0]


def test_a_declared_type_the_bytes_contradict_is_refused(
        server: ReplayServer, http: Transport) -> None:
    url = serve(server, "/fake.png", jpeg(), "image/png")
    out, blobs, problems = download(http, [observation(media=[{"url": url}])])
    assert blobs == {}
    assert "declared image/png but the bytes are image/jpeg" in problems[0]


def test_bytes_of_no_known_format_are_refused_even_with_an_allowed_type(
        server: ReplayServer, http: Transport) -> None:
    url = serve(server, "/x.png", b"MZ\x90\x00 an executable", "image/png")
    out, blobs, problems = download(http, [observation(media=[{"url": url}])])
    assert blobs == {} and "none of the known formats" in problems[0]


def test_an_allowed_list_narrower_than_the_default_is_kept_to(
        server: ReplayServer, http: Transport) -> None:
    url = serve(server, "/v.mp4", mp4(), "video/mp4")
    _, blobs, problems = download(http, [observation(media=[{"url": url}])],
                                  allowed_types={"image/png"})
    assert blobs == {} and "video/mp4 is not allowed" in problems[0]


def test_a_404_is_a_problem_and_the_other_media_are_still_kept(
        server: ReplayServer, http: Transport) -> None:
    good = serve(server, "/a.png", png(), "image/png")
    gone = server.url + "/gone.png"  # no route: the replay server answers 404
    obs = observation(media=[{"id": "x", "url": gone}, {"id": "y", "url": good}])
    out, blobs, problems = download(http, [obs])
    assert list(blobs) == [sha(png())]
    assert out[0].media[0] == {"id": "x", "url": gone}
    assert out[0].media[1]["sha256"] == sha(png())
    assert len(problems) == 1 and "media[0]" in problems[0] and "404" in problems[0]


def test_an_entry_without_an_http_url_is_listed_not_dropped(http: Transport) -> None:
    obs = observation(media=[{"id": "1"}, {"id": "2", "url": "file:///etc/passwd"},
                             {"id": "3", "url": "ftp://x/y.png"}])
    out, blobs, problems = download(http, [obs])
    assert blobs == {} and out[0].media == obs.media
    assert len(problems) == 3
    assert "no url" in problems[0] and "not an http(s) URL" in problems[1]


def test_a_sha256_the_download_did_not_prove_is_not_kept(http: Transport,
                                                         server: ReplayServer) -> None:
    gone = server.url + "/gone.png"
    obs = observation(media=[{"url": gone, "sha256": "ab" * 32, "object": "media/x"}])
    out, _, problems = download(http, [obs])
    assert out[0].media == [{"url": gone}] and len(problems) == 1


def test_the_query_of_a_signed_url_never_appears_in_a_problem(
        server: ReplayServer, http: Transport) -> None:
    url = server.url + "/gone.png?X-Amz-Signature=secret123"
    _, _, problems = download(http, [observation(media=[{"url": url}])])
    assert problems and all("secret123" not in p for p in problems)
