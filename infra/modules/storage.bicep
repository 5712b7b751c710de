// The lake's storage account: the `raw` container (the lake), `deployments` (the
// Flex Consumption app's package), `deadletter` (manifest events Event Grid could
// not deliver) and the `jobs` queue (manual jobs the `run` function accepted, which
// `run_job` runs). No public access, TLS 1.2, HTTPS only.
//
// The lake is the only copy of what Twitch showed (Twitch keeps no history), so
// deleted or overwritten blobs are kept: blob and container soft delete ("Soft delete
// for blobs", learn.microsoft.com/azure/storage/blobs/soft-delete-blob-overview: a
// retention of 1 to 365 days) and blob versioning ("Blob versioning",
// learn.microsoft.com/azure/storage/blobs/versioning-overview: every write of an
// existing blob keeps the previous one as a version). The lake's files are written
// once; what is rewritten (the manual jobs' states under `_jobs/`, doctor's probe)
// would pile up versions, so a lifecycle rule deletes versions after
// `keepDeletedDays` ("Lifecycle management policies",
// learn.microsoft.com/azure/storage/blobs/lifecycle-management-overview: `version`
// actions with `daysAfterCreationGreaterThan`).

param location string

@description('Redundancy of the lake\'s account. LRS keeps 3 copies in one datacenter; ZRS across the region\'s zones (not in every region); GZRS/GRS also in the paired region ("Azure Storage redundancy").')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param redundancy string = 'Standard_LRS'

@description('Days a deleted or overwritten blob, or a deleted container, can be restored.')
@minValue(1)
@maxValue(365)
param keepDeletedDays int = 14

@description('Storage account name (3-24 lowercase letters or digits).')
param name string

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  kind: 'StorageV2'
  sku: {
    name: redundancy
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // Identities only: the app, Snowflake's integration and operators use Entra ID.
    allowSharedKeyAccess: false
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: keepDeletedDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: keepDeletedDays
    }
    isVersioningEnabled: true
  }
}

resource versionsExpire 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'expire-previous-versions'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [
                'blockBlob'
              ]
            }
            actions: {
              version: {
                delete: {
                  daysAfterCreationGreaterThan: keepDeletedDays
                }
              }
            }
          }
        }
      ]
    }
  }
  dependsOn: [
    blobs
  ]
}

resource lake 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: 'raw'
  properties: {
    publicAccess: 'None'
  }
}

resource deployments 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: 'deployments'
  properties: {
    publicAccess: 'None'
  }
}

// Event Grid writes here an event whose delivery ran out of retries or time: the slot
// it names was committed but never submitted (the hourly run submits it again).
resource deadLetter 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobs
  name: 'deadletter'
  properties: {
    publicAccess: 'None'
  }
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

// run/function.json's queue output and run_job/function.json's trigger ("queueName":
// "jobs"). The host would create it on first use; created here so it exists before.
resource jobs 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = {
  parent: queues
  name: 'jobs'
}

output name string = account.name
output id string = account.id
output lakeContainer string = lake.name
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deployments.name}'
output deadLetterContainer string = deadLetter.name
