"""Settings moto accepted but did not report back (each made Terraform plan a change right after apply)."""

from __future__ import annotations


def test_an_ecs_service_reports_its_grace_period_and_managed_tags(emulator):
    ecs = emulator.client("ecs")
    ecs.create_cluster(clusterName="gw")
    ecs.register_task_definition(
        family="gw", containerDefinitions=[{"name": "app", "image": "x", "memory": 512}]
    )
    ecs.create_service(
        cluster="gw",
        serviceName="gateway",
        taskDefinition="gw",
        desiredCount=1,
        healthCheckGracePeriodSeconds=90,
        enableECSManagedTags=True,
        availabilityZoneRebalancing="ENABLED",
    )
    got = ecs.describe_services(cluster="gw", services=["gateway"])["services"][0]
    assert (got["healthCheckGracePeriodSeconds"], got["enableECSManagedTags"]) == (90, True)
    assert got["availabilityZoneRebalancing"] == "ENABLED"


def test_an_ecs_service_update_changes_the_grace_period(emulator):
    ecs = emulator.client("ecs")
    ecs.create_cluster(clusterName="gw")
    ecs.register_task_definition(
        family="gw", containerDefinitions=[{"name": "app", "image": "x", "memory": 512}]
    )
    ecs.create_service(cluster="gw", serviceName="gateway", taskDefinition="gw", desiredCount=1)
    ecs.update_service(cluster="gw", service="gateway", healthCheckGracePeriodSeconds=30)
    got = ecs.describe_services(cluster="gw", services=["gateway"])["services"][0]
    assert got["healthCheckGracePeriodSeconds"] == 30


def _aurora(emulator):
    rds = emulator.client("rds")
    rds.create_db_cluster(
        DBClusterIdentifier="db",
        Engine="aurora-postgresql",
        MasterUsername="gateway",
        ManageMasterUserPassword=True,
        ServerlessV2ScalingConfiguration={"MinCapacity": 0.5, "MaxCapacity": 2},
    )
    return rds


def test_a_serverless_v2_cluster_reports_no_serverless_v1_scaling(emulator):
    got = _aurora(emulator).describe_db_clusters(DBClusterIdentifier="db")["DBClusters"][0]
    assert "ScalingConfigurationInfo" not in got
    assert got["ServerlessV2ScalingConfiguration"] == {"MinCapacity": 0.5, "MaxCapacity": 2}


def test_an_instance_reports_its_performance_insights_settings(emulator):
    rds = _aurora(emulator)
    rds.create_db_instance(
        DBInstanceIdentifier="db-1",
        DBClusterIdentifier="db",
        DBInstanceClass="db.serverless",
        Engine="aurora-postgresql",
        EnablePerformanceInsights=True,
        PerformanceInsightsKMSKeyId="arn:aws:kms:us-east-1:123456789012:key/abc",
    )
    got = rds.describe_db_instances(DBInstanceIdentifier="db-1")["DBInstances"][0]
    assert got["PerformanceInsightsEnabled"] is True
    assert got["PerformanceInsightsKMSKeyId"] == "arn:aws:kms:us-east-1:123456789012:key/abc"
    assert got["PerformanceInsightsRetentionPeriod"] == 7


def test_a_rule_from_a_security_group_keeps_its_description(emulator):
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    source = ec2.create_security_group(GroupName="tasks", Description="tasks", VpcId=vpc)["GroupId"]
    target = ec2.create_security_group(GroupName="db", Description="db", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=target,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": source, "Description": "PostgreSQL from the tasks"}],
            }
        ],
    )
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [target]}])
    ingress = [r for r in rules["SecurityGroupRules"] if not r["IsEgress"]]
    assert [r.get("Description") for r in ingress] == ["PostgreSQL from the tasks"]


def test_deleting_a_nat_gateway_releases_its_network_interface(emulator):
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.0.1.0/24")["Subnet"]["SubnetId"]
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    gateway = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    ec2.delete_nat_gateway(NatGatewayId=gateway)
    assert (
        ec2.describe_network_interfaces(Filters=[{"Name": "subnet-id", "Values": [subnet]}])[
            "NetworkInterfaces"
        ]
        == []
    )
    ec2.release_address(AllocationId=allocation)


def test_deleting_a_vpc_deletes_its_default_network_acl(emulator):
    ec2 = emulator.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    ec2.delete_vpc(VpcId=vpc)
    acls = ec2.describe_network_acls()["NetworkAcls"]
    assert [a["NetworkAclId"] for a in acls if a["VpcId"] == vpc] == []
