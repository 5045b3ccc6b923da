"""rekognition-local through boto3's own Rekognition client.

boto3 serialises requests and parses answers by botocore's service model, and
validates parameters against it first (types, required members, and the
model's *minimums*: botocore checks no maximums and no enum values, so those
are the server's to refuse). So this checks the server speaks the API as AWS
defines it, as a client other than the Rust SDK sees it.

Environment:
  REKOGNITION_URL  the server, e.g. http://127.0.0.1:4600 (required)
  S3_ENDPOINT_URL  the S3 the server reads (moto), for the S3Object and the
                   video tests; they are skipped without it

The server may run either labeler (scripts/check.d/detector-boto3.sh runs it
with canned labels): label assertions are made relative to what it answers
without filters. The video tests need a labeler that accepts any MP4 header
(canned) or a real video; they upload only an MP4 header.

Run: REKOGNITION_URL=... python3 scripts/test_rekognition_boto3.py -v
"""

import os
import struct
import time
import unittest
import uuid
import zlib

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError

URL = os.environ.get("REKOGNITION_URL")
S3_URL = os.environ.get("S3_ENDPOINT_URL")
BUCKET = "rekognition-boto3-test"
CREDENTIALS = {
    "region_name": "us-east-1",
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
}

# The image: navy, with a white rectangle over its centre (the middle half
# of each side), which is what the server takes as the foreground when no
# detector boxed anything.
WIDTH, HEIGHT = 120, 90
NAVY, WHITE = (0, 0, 128), (255, 255, 255)


def centre_pixel(x, y):
    inside = WIDTH // 4 <= x < WIDTH * 3 // 4 and 22 <= y < 68
    return WHITE if inside else NAVY


def png(width, height, pixel):
    """An 8-bit RGB PNG, written with zlib alone."""

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in pixel(x, y)) for y in range(height)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


IMAGE = png(WIDTH, HEIGHT, centre_pixel)
# The smallest file the server takes for a video: an MP4 `ftyp` box header.
MP4_HEADER = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom"


def rekognition(validate=True):
    return boto3.client(
        "rekognition",
        endpoint_url=URL,
        config=Config(parameter_validation=validate, retries={"max_attempts": 1}),
        **CREDENTIALS,
    )


def error_code(e):
    return e.response["Error"]["Code"]


@unittest.skipUnless(URL, "REKOGNITION_URL is not set")
class DetectLabels(unittest.TestCase):
    def setUp(self):
        self.rek = rekognition()
        self.raw = rekognition(validate=False)

    def labels(self, **kwargs):
        kwargs.setdefault("MinConfidence", 0)
        out = self.rek.detect_labels(Image={"Bytes": IMAGE}, **kwargs)
        return out["Labels"]

    def test_labels_and_image_properties_parse_by_the_model(self):
        out = self.rek.detect_labels(
            Image={"Bytes": IMAGE},
            Features=["GENERAL_LABELS", "IMAGE_PROPERTIES"],
            Settings={"ImageProperties": {"MaxDominantColors": 5}},
            MaxLabels=10,
            MinConfidence=50,
        )
        self.assertEqual(out["LabelModelVersion"], "3.0")
        self.assertLessEqual(len(out["Labels"]), 10)
        for label in out["Labels"]:
            self.assertGreaterEqual(label["Confidence"], 50)
            self.assertIsInstance(label["Name"], str)
            self.assertIsInstance(label["Parents"], list)
            self.assertIsInstance(label["Aliases"], list)
            self.assertEqual(len(label["Categories"]), 1, label)
            for instance in label["Instances"]:
                self.assertIn("BoundingBox", instance)
                self.assertIn("DominantColors", instance)

        props = out["ImageProperties"]
        quality = props["Quality"]
        for key in ("Brightness", "Sharpness", "Contrast"):
            self.assertGreaterEqual(quality[key], 0, key)
            self.assertLessEqual(quality[key], 100, key)
        colors = props["DominantColors"]
        self.assertTrue(1 <= len(colors) <= 5, colors)
        self.assertEqual({c["CSSColor"] for c in colors[:2]}, {"navy", "white"})
        self.assertEqual(colors[0]["CSSColor"], "navy")  # the larger area
        navy = colors[0]
        self.assertEqual((navy["Red"], navy["Green"], navy["Blue"]), NAVY)
        self.assertEqual(navy["HexCode"], "#000080")
        self.assertEqual(navy["SimplifiedColor"], "blue")
        self.assertLessEqual(sum(c["PixelPercent"] for c in colors), 100.001)
        self.assertGreater(navy["PixelPercent"], 50)

        self.assertEqual(props["Foreground"]["DominantColors"][0]["CSSColor"], "white")
        self.assertEqual(props["Background"]["DominantColors"][0]["CSSColor"], "navy")
        self.assertGreater(
            props["Foreground"]["Quality"]["Brightness"],
            props["Background"]["Quality"]["Brightness"],
        )

    def test_image_properties_alone_and_max_dominant_colors(self):
        out = self.rek.detect_labels(
            Image={"Bytes": IMAGE},
            Features=["IMAGE_PROPERTIES"],
            Settings={"ImageProperties": {"MaxDominantColors": 1}},
        )
        self.assertEqual(out.get("Labels", []), [])
        self.assertEqual(len(out["ImageProperties"]["DominantColors"]), 1)
        out = self.rek.detect_labels(Image={"Bytes": IMAGE})
        self.assertNotIn("ImageProperties", out)

    def test_filters_keep_and_drop_labels_by_name_alias_and_category(self):
        everything = self.labels()
        if not everything:
            self.fail("the server gave this image no labels")
        first = everything[0]
        category = first["Categories"][0]["Name"]

        kept = self.labels(Settings={"GeneralLabels": {"LabelInclusionFilters": [first["Name"]]}})
        self.assertEqual([l["Name"] for l in kept], [first["Name"]])

        kept = self.labels(
            Settings={"GeneralLabels": {"LabelCategoryExclusionFilters": [category]}}
        )
        expected = [l["Name"] for l in everything if l["Categories"][0]["Name"] != category]
        self.assertEqual([l["Name"] for l in kept], expected)

        kept = self.labels(
            Settings={
                "GeneralLabels": {
                    "LabelCategoryInclusionFilters": [category],
                    "LabelExclusionFilters": [first["Name"]],
                }
            }
        )
        expected = [
            l["Name"]
            for l in everything
            if l["Categories"][0]["Name"] == category and l["Name"] != first["Name"]
        ]
        self.assertEqual([l["Name"] for l in kept], expected)

        # MaxLabels counts the labels the filters keep.
        kept = self.labels(MaxLabels=1, Settings={"GeneralLabels": {"LabelExclusionFilters": [first["Name"]]}})
        self.assertEqual([l["Name"] for l in kept], [l["Name"] for l in everything[1:2]])

        for label in everything:
            if label["Name"] == "Person":
                self.assertEqual(label["Aliases"], [{"Name": "Human"}])
                self.assertEqual(label["Categories"], [{"Name": "Person Description"}])
                # An alias names its label.
                kept = self.labels(Settings={"GeneralLabels": {"LabelInclusionFilters": ["Human"]}})
                self.assertIn("Person", [l["Name"] for l in kept])

    def test_botocore_refuses_what_is_below_the_models_minimums(self):
        with self.assertRaises(ParamValidationError):
            self.rek.detect_labels(Image={"Bytes": IMAGE}, MinConfidence=-1)
        with self.assertRaises(ParamValidationError):
            self.rek.detect_labels(Image={"Bytes": IMAGE}, MaxLabels=-1)

    def test_the_server_refuses_out_of_range_and_unknown_values(self):
        # Sent as they are: past botocore's checks, or outside them (it
        # checks no maximums and no enums).
        bad = [
            (self.raw, {"MinConfidence": -1}),
            (self.raw, {"MaxLabels": -1}),
            (self.rek, {"MinConfidence": 101}),
            (self.rek, {"Features": ["GENERAL_LABELS", "FACES"]}),
            (self.rek, {"Features": ["GENERAL_LABELS", "IMAGE_PROPERTIES", "GENERAL_LABELS"]}),
            (self.rek, {"Settings": {"ImageProperties": {"MaxDominantColors": 21}}}),
            (self.raw, {"Settings": {"ImageProperties": {"MaxDominantColors": -1}}}),
            (
                self.rek,
                {"Settings": {"GeneralLabels": {"LabelInclusionFilters": [f"L{i}" for i in range(101)]}}},
            ),
            (self.rek, {"Settings": {"GeneralLabels": {"LabelExclusionFilters": ["x" * 51]}}}),
            (self.rek, {"Settings": {"GeneralLabels": {"LabelExclusionFilters": ["Dog!"]}}}),
        ]
        for client, params in bad:
            with self.subTest(params=params):
                with self.assertRaises(ClientError) as caught:
                    client.detect_labels(Image={"Bytes": IMAGE}, **params)
                self.assertEqual(error_code(caught.exception), "InvalidParameterException")

    def test_images_are_checked_as_rekognition_checks_them(self):
        with self.assertRaises(ClientError) as caught:
            self.rek.detect_labels(Image={"Bytes": b"GIF89a not an image"})
        self.assertEqual(error_code(caught.exception), "InvalidImageFormatException")
        # IMAGE_PROPERTIES decodes the image, whatever the labeler.
        with self.assertRaises(ClientError) as caught:
            self.rek.detect_labels(
                Image={"Bytes": IMAGE[:100]}, Features=["IMAGE_PROPERTIES"]
            )
        self.assertEqual(error_code(caught.exception), "InvalidImageFormatException")
        # Sides under 80 pixels.
        with self.assertRaises(ClientError) as caught:
            self.rek.detect_labels(
                Image={"Bytes": png(40, 40, centre_pixel)}, Features=["IMAGE_PROPERTIES"]
            )
        self.assertEqual(error_code(caught.exception), "InvalidParameterException")


@unittest.skipUnless(URL and S3_URL, "REKOGNITION_URL or S3_ENDPOINT_URL is not set")
class WithS3(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        s3 = boto3.client("s3", endpoint_url=S3_URL, **CREDENTIALS)
        try:
            s3.create_bucket(Bucket=BUCKET)
        except ClientError as e:
            if error_code(e) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        s3.put_object(Bucket=BUCKET, Key="image.png", Body=IMAGE)
        s3.put_object(Bucket=BUCKET, Key="clip.mp4", Body=MP4_HEADER)
        cls.rek = rekognition()
        cls.raw = rekognition(validate=False)

    def test_detect_labels_reads_s3_objects(self):
        out = self.rek.detect_labels(
            Image={"S3Object": {"Bucket": BUCKET, "Name": "image.png"}},
            Features=["IMAGE_PROPERTIES"],
        )
        self.assertEqual(out["ImageProperties"]["DominantColors"][0]["CSSColor"], "navy")
        with self.assertRaises(ClientError) as caught:
            self.rek.detect_labels(Image={"S3Object": {"Bucket": BUCKET, "Name": "missing.png"}})
        self.assertEqual(error_code(caught.exception), "InvalidS3ObjectException")

    def start(self, **kwargs):
        return self.rek.start_label_detection(
            Video={"S3Object": {"Bucket": BUCKET, "Name": "clip.mp4"}},
            ClientRequestToken=uuid.uuid4().hex,
            **kwargs,
        )["JobId"]

    def finished(self, job_id):
        deadline = time.monotonic() + 60
        while True:
            out = self.rek.get_label_detection(JobId=job_id)
            if out["JobStatus"] != "IN_PROGRESS":
                return out
            if time.monotonic() > deadline:
                self.fail(f"job {job_id} still IN_PROGRESS")
            time.sleep(0.2)

    def all_pages(self, job_id, **kwargs):
        labels, token, pages = [], None, 0
        while True:
            extra = {"NextToken": token} if token else {}
            out = self.rek.get_label_detection(JobId=job_id, **kwargs, **extra)
            pages += 1
            labels += out["Labels"]
            token = out.get("NextToken")
            if not token:
                return labels, pages, out

    def test_a_client_token_reused_with_other_parameters_is_refused(self):
        video = {"S3Object": {"Bucket": BUCKET, "Name": "clip.mp4"}}
        token = uuid.uuid4().hex
        first = self.rek.start_label_detection(Video=video, ClientRequestToken=token, JobTag="a")
        again = self.rek.start_label_detection(Video=video, ClientRequestToken=token, JobTag="a")
        self.assertEqual(first["JobId"], again["JobId"])
        # botocore knows the error as a modelled exception of the client.
        with self.assertRaises(self.rek.exceptions.IdempotentParameterMismatchException):
            self.rek.start_label_detection(Video=video, ClientRequestToken=token, JobTag="b")

    def test_video_jobs_sort_aggregate_filter_and_page(self):
        job = self.start(MinConfidence=50, Features=["GENERAL_LABELS"], JobTag="boto3-test")
        out = self.finished(job)
        self.assertEqual(out["JobStatus"], "SUCCEEDED", out.get("StatusMessage"))
        self.assertEqual(out["JobId"], job)
        self.assertEqual(out["JobTag"], "boto3-test")
        self.assertEqual(out["Video"], {"S3Object": {"Bucket": BUCKET, "Name": "clip.mp4"}})
        self.assertEqual(out["LabelModelVersion"], "3.0")
        self.assertEqual(
            out["GetRequestMetadata"], {"SortBy": "TIMESTAMP", "AggregateBy": "TIMESTAMPS"}
        )
        meta = out["VideoMetadata"]
        for key in ("Codec", "DurationMillis", "Format", "FrameRate"):
            self.assertIn(key, meta)
        labels = out["Labels"]
        if not labels:
            self.fail("the server found no labels in the video")
        times = [l["Timestamp"] for l in labels]
        self.assertEqual(times, sorted(times))
        self.assertTrue(all(l["Label"]["Confidence"] >= 50 for l in labels))
        self.assertTrue(all(l["Label"]["Categories"] for l in labels))

        # Pages of one cover the same list.
        paged, pages, _ = self.all_pages(job, MaxResults=1)
        self.assertEqual(paged, labels)
        self.assertEqual(pages, len(labels))

        by_name = self.rek.get_label_detection(JobId=job, SortBy="NAME")
        names = [l["Label"]["Name"] for l in by_name["Labels"]]
        self.assertEqual(names, sorted(names))
        self.assertEqual(by_name["GetRequestMetadata"]["SortBy"], "NAME")

        segments = self.rek.get_label_detection(JobId=job, AggregateBy="SEGMENTS")
        self.assertEqual(segments["GetRequestMetadata"]["AggregateBy"], "SEGMENTS")
        self.assertTrue(segments["Labels"])
        for s in segments["Labels"]:
            self.assertEqual(s["Timestamp"], s["StartTimestampMillis"])
            self.assertEqual(s["DurationMillis"], s["EndTimestampMillis"] - s["StartTimestampMillis"])
            self.assertGreater(s["DurationMillis"], 0)
            self.assertNotIn("Instances", s["Label"])
        # Each label's segments cover the frames it was seen in.
        self.assertEqual(
            {s["Label"]["Name"] for s in segments["Labels"]}, {l["Label"]["Name"] for l in labels}
        )

        # Filters at the start drop a label from every frame.
        dropped = labels[0]["Label"]["Name"]
        filtered = self.finished(
            self.start(Settings={"GeneralLabels": {"LabelExclusionFilters": [dropped]}})
        )
        left = {l["Label"]["Name"] for l in filtered["Labels"]}
        self.assertNotIn(dropped, left)
        self.assertEqual(left, {l["Label"]["Name"] for l in labels} - {dropped})

    def test_video_parameters_are_checked(self):
        bad_starts = [
            {"Features": ["IMAGE_PROPERTIES"]},
            {"MinConfidence": 150},
            {"Settings": {"GeneralLabels": {"LabelInclusionFilters": ["x" * 51]}}},
        ]
        for params in bad_starts:
            with self.subTest(params=params):
                with self.assertRaises(ClientError) as caught:
                    self.start(**params)
                self.assertEqual(error_code(caught.exception), "InvalidParameterException")
        job = self.start()
        for params in [{"SortBy": "SIZE"}, {"AggregateBy": "FRAMES"}]:
            with self.subTest(params=params):
                with self.assertRaises(ClientError) as caught:
                    self.rek.get_label_detection(JobId=job, **params)
                self.assertEqual(error_code(caught.exception), "InvalidParameterException")
        with self.assertRaises(ParamValidationError):
            self.rek.get_label_detection(JobId=job, MaxResults=0)
        with self.assertRaises(ClientError) as caught:
            self.raw.get_label_detection(JobId=job, MaxResults=0)
        self.assertEqual(error_code(caught.exception), "InvalidParameterException")
        with self.assertRaises(ClientError) as caught:
            self.rek.get_label_detection(JobId=job, NextToken="not-a-token")
        self.assertEqual(error_code(caught.exception), "InvalidPaginationTokenException")
        with self.assertRaises(ClientError) as caught:
            self.rek.get_label_detection(JobId="no-such-job")
        self.assertEqual(error_code(caught.exception), "ResourceNotFoundException")


if __name__ == "__main__":
    unittest.main()
