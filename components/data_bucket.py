"""The S3 bucket every run's file system is linked to, where results end up."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pulumi
import pulumi_aws as aws

from batch_lustre.program.components import Tags, named


@dataclass
class DataBucketArgs:
    """Inputs of :class:`DataBucket`."""

    noncurrent_version_expiry_days: int = 0  # bucketNoncurrentVersionExpiryDays; 0: kept forever
    label: str = ""  # what each Name tag starts with (envName in lower case); the component's name when empty
    tags: Tags = field(default_factory=dict)
    protect: bool = True  # Pulumi's protect option on the bucket (stack config protectBucket)


class DataBucket(pulumi.ComponentResource):
    """A private S3 bucket: versioning on, default encryption SSE-S3 (AES256), every
    public access block setting on, and a bucket policy that refuses any request not
    made over TLS. With ``noncurrent_version_expiry_days`` above 0, a lifecycle rule deletes an
    object's earlier versions that many days after they were replaced (never the current
    version); with 0 (the default) no lifecycle rule, earlier versions are kept. ``pulumi destroy`` does not empty it (no ``force_destroy``): the
    results are the point of the stack; and Pulumi protects it (``protect``, stack config
    ``protectBucket``, on by default), so no update, refresh or destroy deletes or replaces it.

    SSE-S3 rather than SSE-KMS: FSx data repository associations read and write the
    bucket through the FSx service-linked role, which SSE-S3 needs no key policy for.

    Outputs: ``bucket_name``, ``bucket_arn``.
    """

    bucket_name: pulumi.Output[str]
    bucket_arn: pulumi.Output[str]

    def __init__(self, name: str, args: DataBucketArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("batchlustre:index:DataBucket", name, None, opts)
        self._name = name
        self._label = args.label or name
        self._args = args
        self._child = pulumi.ResourceOptions(parent=self)

        self.bucket = self._create_bucket()
        versioning = self._create_versioning()
        if args.noncurrent_version_expiry_days > 0:
            self._create_noncurrent_version_expiry(versioning, args.noncurrent_version_expiry_days)
        self._create_encryption()
        public_access_block = self._create_public_access_block()
        self._create_tls_only_policy(public_access_block)

        self.bucket_name = self.bucket.bucket
        self.bucket_arn = self.bucket.arn
        self.register_outputs({"bucket_name": self.bucket_name, "bucket_arn": self.bucket_arn})

    def _create_bucket(self) -> aws.s3.Bucket:
        return aws.s3.Bucket(
            f"{self._name}-data",
            tags=named(self._args.tags, f"{self._label}-data"),
            opts=pulumi.ResourceOptions(parent=self, protect=self._args.protect),
        )

    def _create_versioning(self) -> aws.s3.BucketVersioning:
        return aws.s3.BucketVersioning(
            f"{self._name}-data-versioning",
            bucket=self.bucket.id,
            versioning_configuration=aws.s3.BucketVersioningVersioningConfigurationArgs(status="Enabled"),
            opts=self._child,
        )

    def _create_noncurrent_version_expiry(
        self, versioning: aws.s3.BucketVersioning, days: int
    ) -> aws.s3.BucketLifecycleConfiguration:
        return aws.s3.BucketLifecycleConfiguration(
            f"{self._name}-data-lifecycle",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketLifecycleConfigurationRuleArgs(
                    id="expire-noncurrent-versions",
                    status="Enabled",
                    filter=aws.s3.BucketLifecycleConfigurationRuleFilterArgs(prefix=""),  # every object
                    noncurrent_version_expiration=(
                        aws.s3.BucketLifecycleConfigurationRuleNoncurrentVersionExpirationArgs(noncurrent_days=days)
                    ),
                )
            ],
            # The provider documents that a versioned bucket's lifecycle configuration depends on its versioning.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[versioning]),
        )

    def _create_encryption(self) -> aws.s3.BucketServerSideEncryptionConfiguration:
        return aws.s3.BucketServerSideEncryptionConfiguration(
            f"{self._name}-data-encryption",
            bucket=self.bucket.id,
            rules=[
                aws.s3.BucketServerSideEncryptionConfigurationRuleArgs(
                    apply_server_side_encryption_by_default=(
                        aws.s3.BucketServerSideEncryptionConfigurationRuleApplyServerSideEncryptionByDefaultArgs(
                            sse_algorithm="AES256"
                        )
                    ),
                )
            ],
            opts=self._child,
        )

    def _create_public_access_block(self) -> aws.s3.BucketPublicAccessBlock:
        return aws.s3.BucketPublicAccessBlock(
            f"{self._name}-data-public-access-block",
            bucket=self.bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=self._child,
        )

    def _create_tls_only_policy(self, public_access_block: aws.s3.BucketPublicAccessBlock) -> aws.s3.BucketPolicy:
        return aws.s3.BucketPolicy(
            f"{self._name}-data-tls-only",
            bucket=self.bucket.id,
            policy=self.bucket.arn.apply(lambda arn: json.dumps(tls_only_policy(arn))),
            # S3 refuses concurrent changes to one bucket's access settings.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[public_access_block]),
        )


def tls_only_policy(bucket_arn: str) -> dict:
    """A bucket policy denying every request made without TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [bucket_arn, f"{bucket_arn}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }
