// The Function App: Flex Consumption, Linux, runtime `custom` (the twitch-pipeline
// binary is the custom handler), a system-assigned identity for everything it reaches.
//
// Identity-based storage: AzureWebJobsStorage and the blob trigger's `LakeStorage`
// connection name the account, with the identity's roles Storage Blob Data Owner and
// Storage Queue Data Contributor. Secrets are Key Vault references.
//
// Key Vault references resolve on first start only if the identity that reads them
// already has its role: a system-assigned identity exists only with the app, so its
// role would come after the app's first start. The references are read instead by a
// user-assigned identity created, and granted Key Vault Secrets User, before the app
// (`keyVaultReferenceIdentity`: "Use Key Vault references as app settings", Access
// vaults with a user-assigned identity, learn.microsoft.com/azure/app-service/app-service-key-vault-references).
// A role can still take minutes to propagate: `serve` then refuses to start, naming
// the unresolved reference, and infra/README.md says to restart the app.

param location string
param name string
param storageAccountName string
param deploymentContainerUrl string
param appInsightsConnectionString string
param keyVaultName string
param twitchClientSecretUri string
param snowflakePrivateKeyUri string
param twitchClientId string
param snowflakeAccount string
param snowflakeUser string
param snowflakeRole string
param snowflakeWarehouse string
param snowflakeDatabase string
param lakeContainer string

// Flex Consumption's lowest allowed maximum is 40 and its highest 1,000 ("Azure
// Functions Flex Consumption plan hosting", Considerations: Scale,
// learn.microsoft.com/azure/azure-functions/flex-consumption-plan); a lower value is
// refused at deployment. One extraction at a time needs few: the lowest allowed.
@description('Most instances the app scales to (Flex Consumption: 40 to 1,000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 40

// HTTP-triggered functions (run, and blob_trigger: an Event Grid webhook) share this
// per-instance concurrency. 16 is Flex Consumption's default for 2,048 MB instances
// ("Concurrency in Azure Functions": HTTP trigger concurrency,
// learn.microsoft.com/azure/azure-functions/functions-concurrency), said here so it
// does not move with the instance size: a blob event takes `serve` milliseconds, and
// the functions bench measures p99 at 16 in flight.
@description('Concurrent HTTP invocations (blob events, manual runs) per instance.')
@minValue(1)
@maxValue(1000)
param httpPerInstanceConcurrency int = 16

@description('Memory per instance: the extractor stays under 150 MB, the transform runs in Snowflake.')
param instanceMemoryMB int = 2048

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

// Reads the Key Vault references; granted before the app exists.
resource secretsReader 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${name}-secrets'
  location: location
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: '${name}-plan'
  location: location
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned, UserAssigned'
    userAssignedIdentities: {
      '${secretsReader.id}': {}
    }
  }
  dependsOn: [
    secretsUser
  ]
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references resolve with the identity granted before the app.
    keyVaultReferenceIdentity: secretsReader.id
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
        triggers: {
          http: {
            perInstanceConcurrency: httpPerInstanceConcurrency
          }
        }
      }
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      appSettings: [
        { name: 'AzureWebJobsStorage__accountName', value: storage.name }
        // The blob trigger's connection (function.json: "connection": "LakeStorage").
        { name: 'LakeStorage__blobServiceUri', value: storage.properties.primaryEndpoints.blob }
        { name: 'LakeStorage__queueServiceUri', value: storage.properties.primaryEndpoints.queue }
        { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsightsConnectionString }
        { name: 'LOG_FORMAT', value: 'json' }
        { name: 'TWITCH_CLIENT_ID', value: twitchClientId }
        { name: 'TWITCH_CLIENT_SECRET', value: '@Microsoft.KeyVault(SecretUri=${twitchClientSecretUri})' }
        // The lake: object_store reads the account name and uses the managed identity.
        { name: 'LAKE_URL', value: 'az://${lakeContainer}' }
        { name: 'AZURE_STORAGE_ACCOUNT_NAME', value: storage.name }
        { name: 'WAREHOUSE_URL', value: 'snowflake' }
        { name: 'SNOWFLAKE_ACCOUNT', value: snowflakeAccount }
        { name: 'SNOWFLAKE_USER', value: snowflakeUser }
        { name: 'SNOWFLAKE_ROLE', value: snowflakeRole }
        { name: 'SNOWFLAKE_WAREHOUSE', value: snowflakeWarehouse }
        { name: 'SNOWFLAKE_DATABASE', value: snowflakeDatabase }
        { name: 'SNOWFLAKE_SCHEMA', value: 'PUBLIC' }
        { name: 'SNOWFLAKE_PRIVATE_KEY', value: '@Microsoft.KeyVault(SecretUri=${snowflakePrivateKeyUri})' }
        { name: 'TRANSFORM_PROJECT_DIR', value: '.' }
        // dbt's target.name for the models: production here, `dev` elsewhere.
        { name: 'TRANSFORM_TARGET_NAME', value: 'prod' }
      ]
    }
  }
}

// Built-in role ids.
var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
var keyVaultSecretsUser = '4633458b-17de-408a-b874-0445c86b69e6'

resource blobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, secretsReader.id, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUser)
    principalId: secretsReader.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = app.name
output hostName string = app.properties.defaultHostName
output principalId string = app.identity.principalId
