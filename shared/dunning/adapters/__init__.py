"""Adapters at the edge: DynamoDB, SES, SNS, SQS, Step Functions, S3, SSM, Secrets Manager.

ClientError codes are turned into domain exceptions here; nothing above this package sees boto3.
"""
